/**
 * Hostile guests (`testdata/hostile.c`): each one does to `vmport run` what the hardening issue found it could
 * not survive, and each test asserts what a user would see — bounded memory (VmHWM of the vmport process, read from
 * /proc while it runs), no hang, the file on disk unchanged, no process left over, the state saved, guest text
 * escaped — plus piped output through a slow reader, and PROGRAMs a shell would refuse.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildC, needs, ptraceUsable, ROOT, runs, vmport } from "../../test-support/system.js";

const skip = needs("gcc", "gcc", () => runs("gcc")) || (ptraceUsable() ? false : "needs Linux on x86-64");
const hostile = skip ? null : buildC("src/host/tracer/testdata/hostile.c", "hostile");
const probe = skip ? null : buildC("src/host/tracer/testdata/probe.c", "probe");
const dir = mkdtempSync(join(tmpdir(), "vmport-hostile-"));
/** A shared library holding `cpuid` (what the CPUID patcher looks for). */
function cpuidLib(name: string): string {
  const out = join(dir, name);
  const r = spawnSync("gcc", ["-shared", "-fPIC", "-O1", "-o", out, join(ROOT, "src/host/tracer/testdata/libcpuid.c")]);
  assert.equal(r.status, 0);
  return out;
}

/**
 * Peak resident memory (VmHWM) of a vmport process that does not touch the hostile part: the same program's
 * harmless mode. Every memory bound below is this plus a named margin.
 */
const MEMORY_MARGIN_MB = 64;

interface Watched {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Highest VmHWM of the vmport process seen while it ran, in MiB. */
  hwmMb: number;
  pid: number;
}

/**
 * Run `vmport ARGS` from source, polling its VmHWM every 20 ms. `onStdout` may kill it (return "kill").
 * Rejects (the test fails) when it runs longer than `limitMs`: a hang.
 */
function watched(args: string[], o: { limitMs?: number; onStdout?: (all: string) => "kill" | undefined } = {}): Promise<Watched> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let hwm = 0;
    const poll = setInterval(() => {
      try {
        const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
        if (m) hwm = Math.max(hwm, Number(m[1]) / 1024);
      } catch {
        // gone
      }
    }, 20);
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`vmport ${args.join(" ")} did not end within ${o.limitMs ?? 60_000} ms (hang); stderr: ${stderr}`));
    }, o.limitMs ?? 60_000);
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (o.onStdout?.(stdout) === "kill") child.kill("SIGKILL");
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (status, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, hwmMb: hwm, pid: child.pid! });
    });
  });
}

let baselineMb = 0;
async function baseline(): Promise<number> {
  if (baselineMb === 0) baselineMb = (await watched(["run", "--", hostile!, "getversion"])).hwmMb;
  return baselineMb;
}

test("row 2: an executable mapping of /dev/zero is skipped (a device), memory stays bounded", { skip }, async () => {
  const base = await baseline();
  const r = await watched(["run", "--verbose", "--", hostile!, "devzero"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^devzero mapped=1 getversion=6$/m);
  assert.ok(r.hwmMb < base + MEMORY_MARGIN_MB, `VmHWM ${r.hwmMb.toFixed(0)} MiB, baseline ${base.toFixed(0)} MiB`);
  assert.match(r.stderr, /mappedNotRegular 1/);
});

test("row 3: a mapped file replaced by a FIFO does not block the tracer", { skip }, async () => {
  const a = cpuidLib("a.so");
  const b = cpuidLib("b.so");
  const r = await watched(["run", "--", hostile!, "fifo", a, b], { limitMs: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^fifo a=1 b=1 getversion=6$/m);
});

test("row 4: a library mapped MAP_SHARED and writable is never patched: the file on disk is unchanged", { skip }, async () => {
  const lib = cpuidLib("shared.so");
  const sum = () => createHash("sha256").update(readFileSync(lib)).digest("hex");
  const before = sum();
  const r = await watched(["run", "--verbose", "--", hostile!, "shared", lib]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^shared mapped=1 getversion=6$/m);
  assert.equal(sum(), before, "the file was modified through the shared mapping");
  assert.match(r.stderr, /sharedSkipped 1/);
});

test("row 5: 1000 info-set of 60 KB under --state: saves are coalesced, memory bounded, the last value saved", { skip }, async () => {
  const base = await baseline();
  const state = join(dir, "flood.json");
  const value = "v".repeat(60_000);
  const r = await watched(["run", "--verbose", "--state", state, "--", probe!, "hbloop", `info-set guestinfo.big ${value}`, "1000"], {
    limitMs: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^hbloop 1000 /m);
  assert.equal(JSON.parse(readFileSync(state, "utf8")).guestinfo["guestinfo.big"], value);
  const saves = Number(/state saves (\d+)/.exec(r.stderr)?.[1]);
  assert.ok(saves >= 1 && saves < 1000, `${saves} saves for 1000 changes`);
  assert.ok(r.hwmMb < base + MEMORY_MARGIN_MB, `VmHWM ${r.hwmMb.toFixed(0)} MiB, baseline ${base.toFixed(0)} MiB`);
});

test("row 6: GUI options set by the guest are saved while it runs; SIGKILL of vmport leaves them on disk", { skip }, async () => {
  const state = join(dir, "gui.json");
  const r = await watched(["run", "--state", state, "--", hostile!, "gui", "0x405"], {
    limitMs: 30_000,
    onStdout: (out) => {
      if (!out.includes("gui set 405")) return;
      // Poll for the file, then kill vmport without warning.
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        if (existsSync(state) && JSON.parse(readFileSync(state, "utf8")).guiOptions === 0x405) return "kill";
        spawnSync("sleep", ["0.05"]);
      }
      return "kill";
    },
  });
  assert.equal(r.signal, "SIGKILL");
  assert.equal(JSON.parse(readFileSync(state, "utf8")).guiOptions, 0x405);
});

/** Whether a process is gone (or a zombie nobody will run again). */
function gone(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return true;
  }
}

test("row 8: clone(CLONE_UNTRACED) and clone3 are refused; after SIGKILL of vmport no guest process is left", { skip }, async () => {
  let pids: number[] = [];
  const r = await watched(["run", "--", hostile!, "untraced", "3"], {
    limitMs: 30_000,
    onStdout: (out) => {
      pids = [...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
      return /getversion=6/.test(out) ? "kill" : undefined;
    },
  });
  assert.equal(r.signal, "SIGKILL");
  assert.match(r.stdout, /^clone_untraced errno=1 clone3 errno=38$/m);
  assert.doesNotMatch(r.stdout, /untraced child/);
  assert.equal(pids.length, 3);
  for (let i = 0; i < 100 && !pids.every(gone); i++) await new Promise((res) => setTimeout(res, 50));
  assert.deepEqual(
    pids.filter((p) => !gone(p)),
    [],
    "guest processes outlived vmport",
  );
});

test("row 9: ptrace of vmport, of a sibling thread, and PTRACE_TRACEME fail with EPERM; vmport ends normally", { skip }, async () => {
  const r = await watched(["run", "--", hostile!, "ptrace"], { limitMs: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^seize_parent=-1\/1 seize_thread=-1\/1 traceme=-1\/1 getversion=6$/m);
});

test("row 10: TCLO replies with terminal escapes and newlines are printed escaped, one line each", { skip }, async () => {
  const r = await watched(["run", "--verbose", "--tclo", "ping", "--", hostile!, "tclo", "1"], { limitMs: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(r.stderr, /[\x00-\x09\x0b-\x1f\x7f\x80-\x9f]/, "a raw control character reached the terminal");
  const line = r.stderr.split("\n").find((l) => l.startsWith('vmport: tclo "ping"'));
  assert.equal(line, 'vmport: tclo "ping": OK \\x1b]0;pwned\\x07\\x1b[2J\\x0avmport: forged line\\x0d\ufffd31m');
  assert.equal(r.stderr.split("\n").filter((l) => l.startsWith("vmport: forged")).length, 0);
});

test("row 14: 2000 executable mmaps are followed in linear time; each is patched (the mapped range holds cpuid)", {
  skip,
}, async () => {
  const lib = cpuidLib("many.so");
  const r = await watched(["run", "--verbose", "--", hostile!, "mmaps", "2000", lib], { limitMs: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^mmaps 2000 getversion=6$/m);
  const m = /(\d+) sites patched, \d+ emulated; (\d+) executable mmaps followed \((\d+) from the cache by identity\)/.exec(r.stderr);
  assert.ok(m !== null, r.stderr);
  assert.ok(Number(m[2]) >= 2000);
  assert.ok(Number(m[3]) >= 1999, "after the first, the library is known by its identity: not opened again");
  assert.ok(Number(m[1]) >= 2000, "every new mapping's cpuid patched");
});

/** Run a shell pipeline; the slow reader starts reading only after a pause. */
function pipeline(cmd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("sh", ["-c", cmd], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const VMPORT = `${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(join(ROOT, "src/cli/main.ts"))}`;

test("row 1: piped output through a slow reader arrives whole: 1 MB and seq 1 200000, exit 0", {
  skip: skip || (ptraceUsable() ? false : "needs Linux"),
}, () => {
  const a = pipeline(`${VMPORT} run -- head -c 1000000 /dev/zero | (sleep 2; wc -c)`);
  assert.equal(a.stdout.trim(), "1000000", a.stderr);
  assert.doesNotMatch(a.stderr, /Resource temporarily unavailable/);
  const c = pipeline(`${VMPORT} run -- seq 1 200000 | (sleep 1; tail -1)`);
  assert.equal(c.stdout.trim(), "200000", c.stderr);
  assert.doesNotMatch(c.stderr, /write error/);
  // vmport's own status (the program's) is 0 behind a slow reader too.
  const d = pipeline(`{ ${VMPORT} run -- seq 1 200000; echo "rc=$?" >&2; } | (sleep 1; wc -l)`);
  assert.equal(d.stdout.trim(), "200000");
  assert.match(d.stderr, /rc=0/);
});

test("row 1: a descriptor closed when vmport started is closed for the program too", { skip }, () => {
  const r = pipeline(`${VMPORT} run -- sh -c '[ -e /proc/$$/fd/1 ] && echo open >&2 || echo closed >&2' >&-`);
  assert.equal(r.stderr.trim(), "closed");
  const s = pipeline(`${VMPORT} run -- sh -c '[ -e /proc/$$/fd/1 ] && echo open >&2 || echo closed >&2' >/dev/null`);
  assert.equal(s.stderr.trim(), "open");
});

test("row 12: PROGRAMs a shell refuses get the shell's answer and 126/127; a text file without #! runs with /bin/sh", { skip }, () => {
  const d = mkdtempSync(join(tmpdir(), "vmport-exec-"));
  writeFileSync(join(d, "noexec"), "echo hi\n");
  writeFileSync(join(d, "script"), 'echo "script ran $1"\n');
  chmodSync(join(d, "script"), 0o755);
  const foreign = join(d, "foreign");
  copyFileSync("/bin/true", foreign);
  const elf = readFileSync(foreign);
  elf.writeUInt16LE(0x28, 18); // e_machine = ARM
  writeFileSync(foreign, elf);
  chmodSync(foreign, 0o755);
  const cases: [string, number, RegExp][] = [
    [d, 126, /^vmport: run: .*: Is a directory$/],
    [join(d, "noexec"), 126, /^vmport: run: .*noexec: Permission denied$/],
    [foreign, 126, /^vmport: run: .*foreign: Exec format error$/],
    ["no-such-program-anywhere", 127, /^vmport: run: no-such-program-anywhere: command not found$/],
    [join(d, "missing"), 127, /^vmport: run: .*missing: No such file or directory$/],
  ];
  for (const [prog, status, msg] of cases) {
    const r = vmport(["run", "--", prog]);
    assert.equal(r.status, status, prog);
    assert.match(r.stderr.trim(), msg);
  }
  const ok = vmport(["run", "--", join(d, "script"), "x"]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, "script ran x\n");
});

test("rows 11, 13: bad host input is one vmport: line and exit 2 before the program runs; FIFOs and devices never block", { skip }, () => {
  const d = mkdtempSync(join(tmpdir(), "vmport-host-"));
  const fifo = join(d, "fifo");
  spawnSync("mkfifo", [fifo]);
  const marker = join(d, "ran");
  const prog = ["sh", "-c", `touch ${marker}`];
  for (const args of [
    ["--state", "/no/such/dir/x.json"],
    ["--state", fifo],
    ["--profile", "/dev/zero"],
    ["--profile", fifo],
    ["--guestinfo", "x=@/dev/zero"],
    ["--guestinfo", `x=@${fifo}`],
    ["--trace", "/no/such/dir/t.jsonl"],
  ]) {
    const r = vmport(["run", ...args, "--", ...prog], { timeoutMs: 30_000 });
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^vmport: [^\n]+\n$/);
    assert.ok(!existsSync(marker), `${args.join(" ")}: the program ran`);
  }
});

test("row 19: --trace is created 0600; --trace-limit stops at the limit with one record counting the rest", { skip }, () => {
  const t = join(dir, "t.jsonl");
  const r = vmport(["run", "--trace", t, "--trace-limit", "3000", "--", probe!, "loop", "50"]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal((spawnSync("stat", ["-c", "%a", t], { encoding: "utf8" }).stdout ?? "").trim(), "600");
  const lines = readFileSync(t, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const last = lines.at(-1)!;
  assert.equal(last["type"], "trace-limit");
  assert.equal(last["limitBytes"], 3000);
  assert.equal((last["dropped"] as number) + lines.length - 1, 50);
  assert.ok((last["written"] as number) <= 3000);
});

test("row 7: symlinks planted at the old predictable temp names beside --state do not redirect vmport's writes", { skip }, async () => {
  const { symlinkSync, readdirSync, lstatSync } = await import("node:fs");
  const d = mkdtempSync(join(tmpdir(), "vmport-plant-"));
  const victim = join(d, "victim");
  writeFileSync(victim, "untouched");
  // Another user plants `.vm.json.<pid>.tmp` for every pid vmport is likely to get next.
  const next = Number(readFileSync("/proc/sys/kernel/ns_last_pid", "utf8"));
  for (let p = next; p < next + 3000; p++) symlinkSync(victim, join(d, `.vm.json.${p}.tmp`));
  const state = join(d, "vm.json");
  const r = vmport(["run", "--state", state, "--", probe!, "hb", "info-set guestinfo.k v"]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(victim, "utf8"), "untouched");
  assert.equal(JSON.parse(readFileSync(state, "utf8")).guestinfo["guestinfo.k"], "v");
  assert.deepEqual(
    readdirSync(d).filter((n) => n.endsWith(".tmp") && !lstatSync(join(d, n)).isSymbolicLink()),
    [],
  );
});
