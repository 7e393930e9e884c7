/**
 * `vmport fuzz` against the test guest with planted bugs (`src/fuzz/testdata/fuzz-guest.c`): from a fixed seed each
 * bug is found within a bounded number of runs, `--replay` reproduces it exactly (same signal, same faulting offset)
 * three times in a row, `--minimize` leaves one or two mutated answers; the robust mode of the same guest gives no
 * finding in 500 runs; usage errors exit 2.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { buildC, needs, ptraceUsable, runs, vmport } from "../test-support/system.js";
import { fromB64 } from "../fuzz/answers.js";
import type { Finding } from "../fuzz/campaign.js";

const skip = needs("gcc", "gcc", () => runs("gcc")) || (ptraceUsable() ? false : "needs Linux on x86-64");
/** The planted bugs must really be there: no stack protector, no fortified printf/strcpy. */
const FLAGS = ["-fno-stack-protector", "-U_FORTIFY_SOURCE", "-D_FORTIFY_SOURCE=0", "-Wno-format-security"];
let built: string | null | undefined;
const guest = (): string => {
  built ??= buildC("src/fuzz/testdata/fuzz-guest.c", "fuzz-guest", FLAGS);
  if (built === null) throw new Error("gcc could not build fuzz-guest.c");
  return built;
};
const GUESTINFO = ["--guestinfo", "fuzz.name=alice", "--guestinfo", "fuzz.motd=hello"];
const text = (b64: string) => new TextDecoder().decode(fromB64(b64));

function findings(dir: string): { path: string; f: Finding }[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith(".json") && !n.endsWith(".min.json"))
    .map((n) => ({ path: join(dir, n), f: JSON.parse(readFileSync(join(dir, n), "utf8")) as Finding }));
}

interface Planted {
  mode: string;
  /** Runs within which seed 1 finds it. */
  runs: number;
  timeoutMs: number;
  /** Is this finding the planted bug? */
  is: (f: Finding) => boolean;
  /** Exit status of the program when the bug fires. */
  status: number;
}

const PLANTED: Planted[] = [
  {
    mode: "overflow",
    runs: 300,
    timeoutMs: 5000,
    // A SIGSEGV after the reply to the name was longer than the 32-byte buffer.
    is: (f) =>
      f.what.signal === "SIGSEGV" &&
      f.answers.mutated.some((m) => m.kind === "rpci" && text(m.reply.base64).slice(2).split("\0")[0]!.length >= 32),
    status: 139,
  },
  {
    mode: "format",
    runs: 300,
    timeoutMs: 5000,
    is: (f) => f.what.signal === "SIGSEGV" && f.answers.mutated.some((m) => m.kind === "rpci" && text(m.reply.base64).includes("%")),
    status: 139,
  },
  {
    mode: "boundary",
    runs: 300,
    timeoutMs: 5000,
    is: (f) =>
      f.key.startsWith("SIGFPE@fuzz-guest+") && f.answers.mutated.some((m) => m.kind === "lb" && m.command === 1 && m.regs["eax"] === 0),
    status: 136,
  },
  {
    mode: "hang",
    runs: 300,
    timeoutMs: 300,
    is: (f) => f.key === "hang" && f.tclo.some((t) => /^Set_Option[\s\S]*\t/.test(t)),
    status: 137,
  },
];

for (const p of PLANTED) {
  test(`planted bug "${p.mode}": found from seed 1 within ${p.runs} runs, replayed exactly 3 times, minimized to 1-2 answers`, {
    skip,
  }, () => {
    const dir = mkdtempSync(join(tmpdir(), `vmport-fuzz-${p.mode}-`));
    const r = vmport(
      [
        "fuzz",
        "--runs",
        String(p.runs),
        "--seed",
        "1",
        "--jobs",
        "1",
        "--timeout-ms",
        String(p.timeoutMs),
        "--findings",
        dir,
        ...GUESTINFO,
        "--",
        guest(),
        p.mode,
      ],
      { timeoutMs: 300_000 },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`seed 1, ${p.runs} runs`));
    const hit = findings(dir).find((x) => p.is(x.f));
    assert.ok(hit !== undefined, `no finding for ${p.mode}: ${r.stderr}`);
    const { path, f } = hit;
    assert.equal(f.program, guest());
    assert.deepEqual(f.args, [p.mode]);
    assert.equal(f.seed, 1);
    if (f.kind === "crash") {
      assert.ok(f.what.crash !== null && /^0x[0-9a-f]+$/.test(f.what.crash.offset) && f.what.crash.ioGp === false);
      assert.ok(f.key.endsWith(`+${f.what.crash.offset}`));
    }

    // --replay: the same key (signal + mapping + offset) and the program's status, three times in a row.
    for (let k = 0; k < 3; k++) {
      const rr = vmport(["fuzz", "--replay", path, "--", guest(), p.mode], { timeoutMs: 60_000 });
      assert.equal(rr.status, p.status, rr.stderr);
      assert.ok(rr.stderr.includes(`vmport: replay: ${f.key} (same as the finding)`), rr.stderr);
    }

    // --minimize: decoy TCLO commands added to the finding are dropped; one or two mutated answers stay.
    const noisy = { ...f, tclo: ["ping", ...f.tclo, "Capabilities_Register"] };
    const noisyPath = join(dir, "noisy.json");
    writeFileSync(noisyPath, JSON.stringify(noisy));
    const before = noisy.answers.mutated.length + noisy.tclo.length;
    const m = vmport(["fuzz", "--minimize", noisyPath, "--", guest(), p.mode], { timeoutMs: 300_000 });
    assert.equal(m.status, 0, m.stderr);
    const min = JSON.parse(readFileSync(join(dir, "noisy.min.json"), "utf8")) as Finding;
    const after = min.answers.mutated.length + min.tclo.length;
    assert.ok(after >= 1 && after <= 2 && after < before, `${before} → ${after}: ${m.stderr}`);
    assert.equal(min.key, f.key);
    const again = vmport(["fuzz", "--replay", join(dir, "noisy.min.json"), "--", guest(), p.mode], { timeoutMs: 60_000 });
    assert.ok(again.stderr.includes(`vmport: replay: ${f.key} (same as the finding)`), again.stderr);
  });
}

test("the robust guest (validates everything it receives): no finding in 500 runs", { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), "vmport-fuzz-robust-"));
  const r = vmport(["fuzz", "--runs", "500", "--seed", "1", "--jobs", "2", "--findings", dir, ...GUESTINFO, "--", guest(), "robust"], {
    timeoutMs: 600_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /500 runs, .* findings 0 in .*; 0 finding runs; 0 I\/O #GP deaths/);
  assert.deepEqual(readdirSync(dir), []);
});

test("a sanitizer report on stderr is a finding (the overflow guest built with AddressSanitizer)", { skip }, () => {
  const asan = buildC("src/fuzz/testdata/fuzz-guest.c", "fuzz-guest-asan", [
    "-g",
    "-fsanitize=address",
    "-fno-omit-frame-pointer",
    "-Wno-format-security",
  ]);
  assert.ok(asan !== null, "gcc -fsanitize=address failed");
  const dir = mkdtempSync(join(tmpdir(), "vmport-fuzz-asan-"));
  // LeakSanitizer does not work under ptrace (it fails at exit): leaks are not checked.
  const r = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      join(import.meta.dirname, "main.ts"),
      "fuzz",
      "--runs",
      "150",
      "--seed",
      "1",
      "--jobs",
      "1",
      "--findings",
      dir,
      ...GUESTINFO,
      "--",
      asan,
      "overflow",
    ],
    {
      encoding: "utf8",
      env: { ...process.env, ASAN_OPTIONS: "detect_leaks=0" },
      timeout: 300_000,
    },
  );
  assert.equal(r.status, 1, r.stderr);
  const hit = findings(dir).find((x) => x.f.kind === "sanitizer");
  assert.ok(hit !== undefined, r.stderr);
  assert.match(hit.f.key, /^sanitizer:SUMMARY: AddressSanitizer: [a-z-]+ .* in .*strcpy/);
  assert.match(hit.f.what.stderrTail, /ERROR: AddressSanitizer/);
});

test("a peak RSS past --max-rss is a finding; --corpus is written and loaded again by the next campaign", { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), "vmport-fuzz-rss-"));
  // awk doubles a string to 256 MiB, then waits for a child: its own RSS passes 100 MiB.
  const r = vmport([
    "fuzz",
    "--runs",
    "1",
    "--max-rss",
    "100",
    "--findings",
    dir,
    "--",
    "awk",
    'BEGIN { s = "x"; for (i = 0; i < 28; i++) s = s s; system("sleep 2") }',
  ]);
  assert.equal(r.status, 1, r.stderr);
  const [f] = findings(dir);
  assert.equal(f?.f.key, "rss", r.stderr);
  assert.ok(f.f.what.peakRssKb > 100 * 1024 && f.f.what.signal === "SIGKILL");

  const corpus = join(dir, "corpus");
  const first = vmport(
    [
      "fuzz",
      "--runs",
      "40",
      "--seed",
      "3",
      "--jobs",
      "1",
      "--corpus",
      corpus,
      "--findings",
      join(dir, "f2"),
      ...GUESTINFO,
      "--",
      guest(),
      "robust",
    ],
    { timeoutMs: 300_000 },
  );
  assert.equal(first.status, 0, first.stderr);
  const entries = readdirSync(corpus).filter((n) => n.endsWith(".json")).length;
  const keys = Number(/(\d+) keys/.exec(first.stderr)![1]);
  assert.ok(entries > 0 && keys > 0, first.stderr);
  // A campaign of one run starts from what the first one kept.
  const again = vmport(
    [
      "fuzz",
      "--runs",
      "1",
      "--seed",
      "4",
      "--jobs",
      "1",
      "--corpus",
      corpus,
      "--findings",
      join(dir, "f2"),
      ...GUESTINFO,
      "--",
      guest(),
      "robust",
    ],
    { timeoutMs: 300_000 },
  );
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, new RegExp(`corpus ${entries}, ${keys} keys`));
});

test("SIGINT stops a campaign gracefully: the runs under way finish, the summary is printed, exit 0", { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "vmport-fuzz-sigint-"));
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(import.meta.dirname, "main.ts"),
      "fuzz",
      "--time",
      "120",
      "--seed",
      "2",
      "--jobs",
      "1",
      "--findings",
      dir,
      ...GUESTINFO,
      "--",
      guest(),
      "robust",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  // Let runs get going (the worker loads, the campaign starts), then interrupt.
  await new Promise((r) => setTimeout(r, 4000));
  child.kill("SIGINT");
  const status = await new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  assert.equal(status, 0, err);
  assert.match(err, /vmport: fuzz: SIGINT: stopping after the runs under way/);
  assert.match(err, /vmport: fuzz: seed 2, \d+ runs, .* findings 0 in \d+\.\d s/);
});

test("vmport fuzz usage errors: one line, exit 2", { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), "vmport-fuzz-usage-"));
  const cases: [string[], RegExp][] = [
    [["fuzz"], /missing required argument|missing PROGRAM/],
    [["fuzz", "--runs", "0", "--", "/bin/true"], /--runs "0": expected an integer/],
    [["fuzz", "--tclo", "OS_Halt", "--", "/bin/true"], /--tclo "OS_Halt": OS_Halt acts on the machine/],
    [["fuzz", "--replay", join(dir, "none.json"), "--", "/bin/true"], /--replay .*none\.json/],
    [["fuzz", "--", join(dir, "no-such-program")], /fuzz: .*no-such-program/],
    [["fuzz", "--findings", "/proc/version/x", "--", "/bin/true"], /--findings \/proc\/version\/x: E/],
  ];
  writeFileSync(
    join(dir, "bad.json"),
    JSON.stringify({ format: "vmport-fuzz-finding/1", answers: { points: 1, mutated: [{ i: 0, kind: "nope" }] } }),
  );
  cases.push([["fuzz", "--minimize", join(dir, "bad.json"), "--", "/bin/true"], /answers\.mutated\[0\]: unknown or malformed entry/]);
  const badProfile = {
    format: "vmport-fuzz-finding/1",
    key: "x",
    kind: "crash",
    program: "/bin/true",
    args: [],
    profile: { mhz: 1 },
    guestinfo: [],
    tclo: [],
    answers: { points: 0, mutated: [] },
  };
  writeFileSync(join(dir, "bad-profile.json"), JSON.stringify(badProfile));
  cases.push([["fuzz", "--replay", join(dir, "bad-profile.json"), "--", "/bin/true"], /profile key "mhz": unknown key/]);
  for (const [args, re] of cases) {
    const r = vmport(args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});
