/**
 * Conformance: the README's ✓ client rows that the other open-vm-tools tests do not run, each as the real, unmodified
 * program under `vmport run`, asserting what a user sees (output, exit status) and what reaches the host model
 * (`--report`, `--state`, and for byte-exact claims `--trace` with `highBandwidth: false`, decoded by
 * `messagesFromTrace`).
 *
 * Clients: `vmware-rpctool log` (bare and with text); `vmware-toolbox-cmd stat swap|memres|cpures|cpulimit`,
 * `timesync enable|disable` (`open-vm-tools/toolbox/toolboxcmd-time.c`), `device list`
 * (`open-vm-tools/toolbox/toolboxcmd-devices.c`); vmtoolsd with only `libappInfo.so`
 * (`open-vm-tools/services/plugins/appInfo/appInfo.c`); and the CPUID-only detectors `systemd-detect-virt --vm`,
 * `virt-what`, `lscpu`, each also run outside `vmport run` and with `cpuid: false`, where they must not see VMware.
 *
 * Safety: `timesync enable|disable` only read GETGUIOPTIONS and send `vmx.set_option synctime OLD NEW` to the host
 * (toolboxcmd-time.c); the clock is stepped only by vmtoolsd's timeSync plugin on TCLO `Set_Option synctime 1`, and
 * no vmtoolsd runs in that test — nor does vmport turn the RPC into TCLO. vmtoolsd runs with a private plugin
 * directory holding only libappInfo.so (it reads the process list and sends `info-set guestinfo.appInfo`), an empty
 * common directory and a private config, and receives no TCLO command but the automatic `reset`.
 * Does not: run `device enable|disable` (not a README row), or anything that reads DMI as a claim (vmport does not
 * virtualise the firmware tables; see docs/clients.md).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { needs, ptraceUsable, runs, vmport } from "../../test-support/system.js";
import { messagesFromTrace, type TracedMessage } from "../../vm/trace-messages.js";
import type { TraceRecord } from "../../vm/trace.js";
import type { VmReport } from "../../vm/report.js";

const linux = ptraceUsable() ? false : "needs Linux on x86-64";
const ovt =
  linux || needs("open-vm-tools", "open-vm-tools", () => runs("vmware-toolbox-cmd", ["-v"]) && existsSync("/usr/bin/vmware-rpctool"));
const detectVirt = linux || needs("systemd-detect-virt", "systemd", () => runs("systemd-detect-virt", ["--version"]));
const virtWhat =
  linux ||
  needs("virt-what", "virt-what", () => existsSync("/usr/sbin/virt-what")) ||
  (process.getuid?.() === 0 ? false : "virt-what must run as root");
const lscpu = linux || needs("lscpu", "util-linux", () => runs("lscpu", ["--version"]));
const APPINFO_SO = "/usr/lib/x86_64-linux-gnu/open-vm-tools/plugins/vmsvc/libappInfo.so";

const dir = mkdtempSync(join(tmpdir(), "vmport-clients-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function file(name: string, content: string): string {
  const f = join(dir, `${n++}-${name}`);
  writeFileSync(f, content);
  return f;
}

/** `vmport run --report R [--profile P] [extra] -- argv`; the result and the parsed report. */
function run(argv: string[], o: { profile?: object; extra?: string[]; timeoutMs?: number } = {}) {
  const report = join(dir, `${n++}-report.json`);
  const args = [
    "run",
    "--report",
    report,
    ...(o.profile ? ["--profile", file("profile.json", JSON.stringify(o.profile))] : []),
    ...(o.extra ?? []),
    "--",
    ...argv,
  ];
  const r = vmport(args, o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {});
  const rep = existsSync(report) ? (JSON.parse(readFileSync(report, "utf8")) as VmReport) : null;
  return { ...r, report: rep };
}

/** The messages of a `--trace` file (LB only: run with `highBandwidth: false`). */
function traced(trace: string): TracedMessage[] {
  const recs = readFileSync(trace, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as TraceRecord);
  return messagesFromTrace(recs);
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** The program run directly, outside `vmport run`. */
function outside(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout };
}

/** `sh -c` running each command in turn, each followed by `exit N` on stdout. */
function each(cmds: string[]): string[] {
  return ["sh", "-c", cmds.map((c) => `${c}; echo "exit $?"`).join("; ")];
}

test("vmware-rpctool log: the bare 3-byte `log` and `log TEXT` are answered empty and land in the guest log", { skip: ovt }, () => {
  const trace = join(dir, `${n++}-log.jsonl`);
  const r = run(each(["vmware-rpctool log", "vmware-rpctool 'log agent: started, pid 42'"]), {
    profile: { highBandwidth: false },
    extra: ["--trace", trace],
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "\nexit 0\n\nexit 0\n"); // rpctool prints the reply text: empty
  const msgs = traced(trace).filter((m) => m.protocol === "rpci");
  // The bare command arrives as the 3 bytes "log" (6c 6f 67): no space, no NUL.
  assert.deepEqual(
    msgs.filter((m) => m.from === "guest").map((m) => [...m.bytes]),
    [[0x6c, 0x6f, 0x67], [...Buffer.from("log agent: started, pid 42")]],
  );
  assert.deepEqual(
    msgs.filter((m) => m.from === "host").map((m) => text(m.bytes)),
    ["1 ", "1 "],
  );
  assert.deepEqual(r.report?.log.lines, ["", "agent: started, pid 42"]);
  assert.equal(r.report?.unknownRpc.total, 0);
});

test("vmware-toolbox-cmd stat swap|memres|cpures|cpulimit print the profile's guestlib numbers; null is 'not available' (exit 75)", {
  skip: ovt,
}, () => {
  const stats = each(["swap", "memres", "cpures", "cpulimit"].map((s) => `vmware-toolbox-cmd stat ${s}`));
  const set = run(stats, { profile: { cpuMhz: 3100, guestlib: { memSwappedMb: 64, memReservationMb: 512, cpuReservationMhz: 1000 } } });
  assert.equal(set.status, 0, set.stderr);
  assert.equal(set.stdout, "64 MB\nexit 0\n512 MB\nexit 0\n1000 MHz\nexit 0\n3100 MHz\nexit 0\n"); // cpulimit defaults to cpuMhz
  assert.equal(set.stderr, "");
  // `guestlib.info.get 3` is refused as a v2 host would ("Unsupported version"), never "Unknown command".
  assert.deepEqual(set.report?.unknownRpc.commands, {});
  const unset = run(stats, {
    profile: { guestlib: { memSwappedMb: null, memReservationMb: null, cpuReservationMhz: null, cpuLimitMhz: 1500 } },
  });
  assert.equal(unset.stdout, "exit 75\nexit 75\nexit 75\n1500 MHz\nexit 0\n"); // EX_TEMPFAIL
  assert.match(unset.stderr, /^Failed to get swapped memory: This value is not available on this host$/m);
  assert.match(unset.stderr, /^Failed to get memory reservation: This value is not available on this host$/m);
  assert.equal(unset.stderr.match(/This value is not available on this host/g)?.length, 3);
});

test("vmware-toolbox-cmd timesync enable|disable flip GUI option 0x400 through vmx.set_option; --state keeps it; status agrees", {
  skip: ovt,
}, () => {
  const state = join(dir, `${n++}-timesync-state.json`);
  const trace = join(dir, `${n++}-timesync.jsonl`);
  const guiOptions = () => (JSON.parse(readFileSync(state, "utf8")) as { guiOptions: number }).guiOptions;
  const ts = (subs: string[], extra: string[] = [], more: string[] = []) =>
    run(each([...subs.map((s) => `vmware-toolbox-cmd timesync ${s}`), ...more]), {
      profile: { guiOptions: 0x3, highBandwidth: false }, // two other GUI option bits that enable/disable must leave alone
      extra: ["--state", state, ...extra],
    });
  // A guest program reads the state file while the VM still runs: vmport saves a durable change without waiting for
  // the exit (bounded wait for the writer thread; a hang guard, not a speed check).
  const readState = `i=0; while [ $i -lt 80 ] && ! grep -q '"guiOptions": 1027' '${state}' 2>/dev/null; do i=$((i+1)); sleep 0.25; done; grep -o '"guiOptions": [0-9]*' '${state}'`;

  const en = ts(["status", "enable"], ["--trace", trace], [readState]);
  assert.equal(en.stdout, 'Disabled\nexit 69\nEnabled\nexit 0\n"guiOptions": 1027\nexit 0\n'); // status exits EX_UNAVAILABLE when disabled
  assert.equal(en.stderr, "");
  // The one RPC on the wire: old value, new value, and the NUL RpcChannel users append.
  const sent = traced(trace)
    .filter((m) => m.from === "guest" && m.protocol === "rpci")
    .map((m) => text(m.bytes));
  assert.deepEqual(sent, ["vmx.set_option synctime 0 1\0"]);
  assert.deepEqual(en.report?.guest.vmxOptions, { synctime: "1" });
  assert.equal(guiOptions(), 0x403);

  const again = ts(["status", "enable"]); // a new run: the bit came from --state; already enabled, nothing is sent
  assert.equal(again.stdout, "Enabled\nexit 0\nEnabled\nexit 0\n");
  assert.deepEqual(again.report?.guest.vmxOptions, {});

  const dis = ts(["disable", "status"]);
  assert.equal(dis.stdout, "Disabled\nexit 0\nDisabled\nexit 69\n");
  assert.deepEqual(dis.report?.guest.vmxOptions, { synctime: "0" });
  assert.equal(guiOptions(), 0x3);
  for (const r of [en, again, dis]) assert.deepEqual(r.report?.tclo.commands, [], "nothing went to TCLO");
});

test("vmware-toolbox-cmd device list prints the profile's devices with their state; none prints nothing", { skip: ovt }, () => {
  // The tool asks ids 0…49 (its MAX_DEVICES) and reads RD_Info (a 32-byte name, then the enabled byte) 4 bytes at a
  // time: the profile's limit of 50 devices and its longest name (31 bytes) come back whole.
  const devices = Array.from({ length: 50 }, (_, i) => ({
    name: i === 49 ? "x".repeat(31) : i === 0 ? "ide1:0" : `floppy${i}`,
    enabled: i % 3 === 0,
  }));
  const full = run(["vmware-toolbox-cmd", "device", "list"], { profile: { devices } });
  assert.equal(full.status, 0, full.stderr);
  assert.equal(full.stdout, devices.map((d) => `${d.name}: ${d.enabled ? "Enabled" : "Disabled"}\n`).join(""));
  assert.match(full.stdout, /^ide1:0: Enabled\nfloppy1: Disabled\n/);
  const none = run(["vmware-toolbox-cmd", "device", "list"]);
  assert.deepEqual([none.status, none.stdout], [0, ""]);
});

test("vmtoolsd's appInfo plugin (private plugin dir): the process list reaches guestinfo.appInfo and the model; shutdown clears it", {
  skip: ovt,
}, () => {
  assert.ok(existsSync(APPINFO_SO), "libappInfo.so not found");
  const plug = join(dir, "appinfo-plugins");
  const common = join(dir, "appinfo-common");
  mkdirSync(plug, { recursive: true });
  mkdirSync(common, { recursive: true });
  symlinkSync(APPINFO_SO, join(plug, "libappInfo.so"));
  // poll-interval 1: the plugin gathers every second instead of every 6 hours.
  const conf = file("tools.conf", "[logging]\nlog = false\n[appinfo]\npoll-interval = 1\n");
  // One shell in the VM: start vmtoolsd, wait (bounded) until a guest program reads appInfo back, then stop vmtoolsd
  // with `signal` and read it again.
  const script = (signal: string) =>
    `vmtoolsd -n vmsvc -c '${conf}' -p '${plug}' --common-path '${common}' & pid=$!
     i=0; while [ $i -lt 120 ]; do v=$(vmware-rpctool 'info-get guestinfo.appInfo' 2>/dev/null) && [ -n "$v" ] && break; i=$((i+1)); sleep 0.25; done
     printf '%s\\n--\\n' "$v"
     kill -${signal} $pid; wait $pid; echo "vmtoolsd $?"
     vmware-rpctool 'info-get guestinfo.appInfo'`;
  type AppInfo = { version: string; updateCounter: string; publishTime: string; applications: { a: string; v: string }[] };

  // Killed outright (no shutdown): the last report stays in the model.
  const killed = run(["sh", "-c", script("KILL")], { timeoutMs: 90_000 });
  assert.equal(killed.status, 0, killed.stderr);
  const [read, rest] = killed.stdout.split("\n--\n") as [string, string];
  const seen = JSON.parse(read) as AppInfo; // what a guest program read back while vmtoolsd ran
  assert.equal(seen.version, "1");
  assert.ok(Number(seen.updateCounter) >= 1);
  assert.ok(!Number.isNaN(Date.parse(seen.publishTime)), seen.publishTime);
  const names = seen.applications.map((x) => x.a);
  for (const want of ["vmtoolsd", "sh"]) assert.ok(names.includes(want), `${want} missing from ${JSON.stringify(names)}`);
  assert.ok(
    seen.applications.every((x) => x.v === ""),
    "Linux reports no versions",
  );
  assert.match(rest, /^vmtoolsd 137\n/); // 128 + SIGKILL
  const model = killed.report!.guest.appInfo as AppInfo;
  assert.equal(model.version, "1");
  assert.ok(Number(model.updateCounter) >= Number(seen.updateCounter));
  assert.ok(model.applications.some((x) => x.a === "vmtoolsd"));
  assert.deepEqual(JSON.parse(killed.report!.guest.guestinfo["guestinfo.appInfo"]!), model);
  assert.deepEqual(
    killed.report!.tclo.commands.map((c) => [c.command, c.outcome, c.text]),
    [["reset", "ok", "ATR toolbox"]],
  );
  assert.equal(killed.report!.guest.toolsRunning, true);
  assert.equal(killed.report!.guest.guestinfo["guestinfo.vmtools.versionNumber"], "12352");

  // Stopped with SIGTERM: the plugin's shutdown sends `info-set guestinfo.appInfo ` (empty), as it would to a VMX.
  const stopped = run(["sh", "-c", script("TERM")], { timeoutMs: 90_000 });
  assert.equal(stopped.status, 0, stopped.stderr);
  const [read2, rest2] = stopped.stdout.split("\n--\n") as [string, string];
  assert.equal((JSON.parse(read2) as AppInfo).version, "1");
  assert.equal(rest2, "vmtoolsd 0\n\n"); // exited cleanly; then the value reads back empty
  assert.equal(stopped.report!.guest.appInfo, null);
  assert.equal(stopped.report!.guest.guestinfo["guestinfo.appInfo"], "");
});

/** `Hypervisor vendor:` from lscpu's output, or null when it prints none (bare metal). */
function lscpuVendor(out: string): string | null {
  return /^Hypervisor vendor:\s+(.+)$/m.exec(out)?.[1]?.trim() ?? null;
}

test("systemd-detect-virt --vm: vmware under vmport run; outside and with cpuid: false, what the machine is", { skip: detectVirt }, () => {
  const real = outside("systemd-detect-virt", ["--vm"]);
  assert.notEqual(real.stdout.trim(), "vmware");
  const r = run(["systemd-detect-virt", "--vm"]);
  // systemd believes DMI (Oracle, Amazon, Parallels), /proc/xen and UML before CPUID: there vmport cannot win.
  const firmwareFirst = ["oracle", "amazon", "parallels", "xen", "uml"].includes(real.stdout.trim());
  assert.deepEqual([r.status, r.stdout], firmwareFirst ? [real.status, real.stdout] : [0, "vmware\n"]);
  const off = run(["systemd-detect-virt", "--vm"], { profile: { cpuid: false } });
  assert.deepEqual([off.status, off.stdout], [real.status, real.stdout]);
});

test("virt-what: prints vmware under vmport run (from CPUID); outside and with cpuid: false it prints what it does on the machine", {
  skip: virtWhat,
}, () => {
  // Its CPUID helper prints the hypervisor signature; virt-what prints "vmware" when it is VMware's.
  const helper = "/usr/libexec/virt-what-cpuid-helper";
  const both = ["sh", "-c", `${helper}; echo --; virt-what`];
  const real = outside(both[0]!, both.slice(1));
  assert.equal(real.status, 0);
  const [realSig, realFacts] = real.stdout.split("--\n") as [string, string];
  assert.notEqual(realSig.trim(), "VMwareVMware");
  assert.ok(!realFacts.split("\n").includes("vmware"), realFacts);
  const r = run(both);
  assert.equal(r.status, 0, r.stderr);
  const [sig, facts] = r.stdout.split("--\n") as [string, string];
  assert.equal(sig, "VMwareVMware\n");
  assert.ok(facts.split("\n").includes("vmware"), facts);
  const off = run(both, { profile: { cpuid: false } });
  assert.deepEqual([off.status, off.stdout], [real.status, real.stdout]);
});

test("lscpu: Hypervisor vendor VMware under vmport run; outside and with cpuid: false, the machine's own", { skip: lscpu }, () => {
  const real = lscpuVendor(outside("lscpu", []).stdout);
  assert.notEqual(real, "VMware");
  const r = run(["lscpu"]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(lscpuVendor(r.stdout), "VMware");
  assert.match(r.stdout, /^Virtualization type:\s+full$/m);
  const off = run(["lscpu"], { profile: { cpuid: false } });
  assert.equal(lscpuVendor(off.stdout), real);
});
