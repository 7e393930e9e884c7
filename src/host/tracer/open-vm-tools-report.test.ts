/**
 * Conformance: what the real, unmodified open-vm-tools (Debian's package) report reaches the host whole, and the
 * RPCs they send beyond the basics are answered as the profile's host type would — checked through
 * `vmport run --report`, against what this machine itself says (`ip -j addr`, `ip -j route`, `/etc/resolv.conf`).
 * Clients: `vmware-toolbox-cmd info update network|stat raw|disk list`, vmtoolsd's guestInfo plugin (also on an
 * older host: `nicInfoVersion` 2 and 1),
 * `vmware-rpctool` / `vmtoolsd --cmd machine.id.get`, `vmware-namespace-cmd`, `vmware-xferlogs`; and the report of
 * a program killed by a signal, and `--report` misuse.
 * Safety: vmtoolsd runs with a private plugin directory holding only libguestInfo.so, an empty common directory and
 * a private config, and receives only `ping` and `Capabilities_Register` (plus the automatic reset); `vmtoolsd
 * --cmd` sends one RPC and exits.
 * `disk list` only reads the mount table (never `disk wipe`/`shrink`, which fill the real disk).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { needs, ptraceUsable, runs, vmport } from "../../test-support/system.js";
import { messagesFromTrace } from "../../vm/trace-messages.js";
import type { TraceRecord } from "../../vm/trace.js";
import type { VmReport } from "../../vm/report.js";

const ovt = needs("open-vm-tools", "open-vm-tools", () => runs("vmware-checkvm", ["-h"]) && existsSync("/usr/bin/vmware-namespace-cmd"));
const ip = needs("iproute2", "iproute2", () => runs("ip", ["-V"]));
const skip = ovt || (ptraceUsable() ? false : "needs Linux on x86-64");
const dir = mkdtempSync(join(tmpdir(), "vmport-ovt-report-"));
let n = 0;

function file(name: string, content: string): string {
  const f = join(dir, `${n++}-${name}`);
  writeFileSync(f, content);
  return f;
}

/** `vmport run [--profile P] --report R … -- argv`; returns the result and the parsed report. */
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

/**
 * What `ip -j addr` shows of the interfaces the guestInfo plugin reports: Ethernet interfaces with addresses (it reads
 * them through libdnet's Ethernet entries; never loopback), minus its default exclude-nics (docker*, veth*, virbr*).
 */
function machineNics(): Map<string, string[]> {
  const links = JSON.parse(spawnSync("ip", ["-j", "addr"], { encoding: "utf8" }).stdout) as {
    ifname: string;
    link_type: string;
    address?: string;
    addr_info: { local: string; prefixlen: number }[];
  }[];
  const out = new Map<string, string[]>();
  for (const l of links) {
    if (l.link_type !== "ether" || /^(docker|veth|virbr)/.test(l.ifname) || l.addr_info.length === 0 || l.address === undefined) continue;
    out.set(l.address.toLowerCase(), l.addr_info.map((a) => `${a.local}/${a.prefixlen}`).sort());
  }
  return out;
}

/** The report's NICs as MAC → sorted `address/prefix`. */
function reportedNics(r: VmReport): Map<string, string[]> {
  return new Map(r.guest.nics.map((nic) => [nic.mac.toLowerCase(), nic.ips.map((a) => `${a.address}/${a.prefixLength}`).sort()]));
}

/** Every route of the main tables (`ip -j route`, `ip -j -6 route`) on a reported NIC, as `dest/prefix via hop`. */
function machineRoutes(macOf: Map<string, string>): string[] {
  const routes: string[] = [];
  for (const fam of [
    ["-4", "0.0.0.0/0"],
    ["-6", "::/0"],
  ] as const) {
    const list = JSON.parse(spawnSync("ip", ["-j", fam[0], "route"], { encoding: "utf8" }).stdout || "[]") as {
      dst: string;
      gateway?: string;
      dev: string;
    }[];
    for (const r of list) {
      if (!macOf.has(r.dev)) continue;
      const dst = r.dst === "default" ? fam[1] : r.dst.includes("/") ? r.dst : `${r.dst}/${fam[0] === "-4" ? 32 : 128}`;
      routes.push(`${dst} via ${r.gateway ?? "-"}`);
    }
  }
  return routes.sort();
}

/** Interface name → MAC for the reported NICs. */
function devMacs(): Map<string, string> {
  const links = JSON.parse(spawnSync("ip", ["-j", "link"], { encoding: "utf8" }).stdout) as { ifname: string; address?: string }[];
  const nics = machineNics();
  return new Map(
    links.filter((l) => l.address !== undefined && nics.has(l.address.toLowerCase())).map((l) => [l.ifname, l.address!.toLowerCase()]),
  );
}

/** The name servers libc uses (`/etc/resolv.conf`, at most 3). */
function nameServers(): string[] {
  const text = existsSync("/etc/resolv.conf") ? readFileSync("/etc/resolv.conf", "utf8") : "";
  return [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!).slice(0, 3);
}

test("vmware-toolbox-cmd info update network exits 0; --report lists every address with its prefix as ip -j addr shows it", {
  skip: skip || ip,
}, () => {
  const r = run(["vmware-toolbox-cmd", "info", "update", "network"], { extra: ["--verbose"] });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.report, "no report written");
  const expected = machineNics();
  assert.ok([...expected.values()].flat().length > 0, "this machine has no address to compare");
  assert.deepEqual(reportedNics(r.report), expected);
  assert.deepEqual(r.report.guest.nicReport, { type: 10, version: 3 });
  assert.deepEqual(r.report.exit, { status: 0, signal: null, signalName: null });
  assert.deepEqual(r.report.unknownRpc.commands, {});
  const addrs = [...expected.values()].flat().length;
  assert.match(
    r.stderr,
    new RegExp(
      `^vmport: guest: tools \\?, hostname \\?, ${expected.size} NIC\\(s\\), ${addrs} address\\(es\\), ${r.report.guest.routes.length} route\\(s\\)$`,
      "m",
    ),
  );
});

test("vmtoolsd's guestInfo plugin (private plugin dir) reports NICs, routes and DNS into --report", { skip: skip || ip }, () => {
  const plug = join(dir, "plugins");
  const common = join(dir, "common");
  mkdirSync(plug, { recursive: true });
  mkdirSync(common, { recursive: true });
  const lib = "/usr/lib/x86_64-linux-gnu/open-vm-tools/plugins/vmsvc/libguestInfo.so";
  assert.ok(existsSync(lib), "libguestInfo.so not found");
  if (!existsSync(join(plug, "libguestInfo.so"))) symlinkSync(lib, join(plug, "libguestInfo.so"));
  // poll-interval 1: the plugin gathers every second instead of every 30 s.
  const conf = file("tools.conf", "[logging]\nlog = true\nvmsvc.level = message\nvmsvc.handler = std\n[guestinfo]\npoll-interval = 1\n");
  const r = run(["timeout", "-s", "TERM", "8", "vmtoolsd", "-n", "vmsvc", "-c", conf, "-p", plug, "--common-path", common], {
    extra: ["--tclo", "ping", "--tclo", "Capabilities_Register"],
    timeoutMs: 60_000,
  });
  assert.equal(r.status, 124, r.stderr); // timeout's status: vmtoolsd ran until it was told to stop
  const rep = r.report!;
  assert.deepEqual(reportedNics(rep), machineNics());
  assert.deepEqual(rep.guest.nicReport, { type: 10, version: 3 });
  const macs = devMacs();
  const routes = rep.guest.routes.map((x) => `${x.destination}/${x.prefixLength} via ${x.nextHop ?? "-"}`);
  for (const want of machineRoutes(macs)) assert.ok(routes.includes(want), `route ${want} missing from ${JSON.stringify(routes)}`);
  for (const x of rep.guest.routes)
    assert.ok([...macs.values()].includes(rep.guest.nics[x.ifIndex]!.mac.toLowerCase()), "route on an unreported NIC");
  assert.deepEqual(rep.guest.dns?.servers ?? [], nameServers());
  assert.equal(rep.guest.toolsVersion, 12352);
  assert.equal(rep.guest.toolsRunning, true);
  assert.ok(rep.guest.hostname !== null && rep.guest.hostname !== "");
  assert.ok(rep.guest.osDetailed !== null && rep.guest.uptimeSeconds !== null && rep.guest.disks.length > 0);
  assert.deepEqual(
    rep.tclo.commands.map((c) => [c.command, c.internal, c.outcome]),
    [
      ["ping", false, "ok"],
      ["Capabilities_Register", false, "ok"],
      ["reset", true, "ok"],
    ],
  );
  assert.ok(
    rep.log.lines.some((l) => /Version: 12\.2\.0/.test(l)),
    "the tools' version line is in the log",
  );
});

test("vmtoolsd's guestInfo plugin on an older host (nicInfoVersion 2, 1) falls back to NIC report v2, then v1", {
  skip: skip || ip,
}, () => {
  const plug = join(dir, "plugins");
  const common = join(dir, "common");
  mkdirSync(plug, { recursive: true });
  mkdirSync(common, { recursive: true });
  const lib = "/usr/lib/x86_64-linux-gnu/open-vm-tools/plugins/vmsvc/libguestInfo.so";
  assert.ok(existsSync(lib), "libguestInfo.so not found");
  if (!existsSync(join(plug, "libguestInfo.so"))) symlinkSync(lib, join(plug, "libguestInfo.so"));
  const conf = file("tools.conf", "[logging]\nlog = false\n[guestinfo]\npoll-interval = 1\n");
  const vmtoolsd = ["timeout", "-s", "TERM", "8", "vmtoolsd", "-n", "vmsvc", "-c", conf, "-p", plug, "--common-path", common];
  const expected = machineNics();
  // A v2 host refuses type 10: the plugin sends the same NICs as a GuestNicList over type 9 (prefixes kept, no routes).
  const v2 = run(vmtoolsd, { profile: { nicInfoVersion: 2 }, timeoutMs: 60_000 });
  assert.equal(v2.status, 124, v2.stderr);
  assert.deepEqual(v2.report?.guest.nicReport, { type: 9, version: 2 });
  assert.deepEqual(reportedNics(v2.report), expected);
  assert.deepEqual(v2.report.guest.routes, []);
  // A v1 host takes only the fixed struct over type 2: IPv4 addresses as text, without prefixes.
  const v1 = run(vmtoolsd, { profile: { nicInfoVersion: 1 }, timeoutMs: 60_000 });
  assert.equal(v1.status, 124, v1.stderr);
  assert.deepEqual(v1.report?.guest.nicReport, { type: 2, version: 1 });
  const ipv4 = new Map([...expected].map(([mac, addrs]) => [mac, addrs.filter((a) => a.includes(".")).map((a) => a.split("/")[0]!)]));
  const got = new Map(v1.report.guest.nics.map((nic) => [nic.mac.toLowerCase(), nic.ips.map((a) => [a.address, a.prefixLength])]));
  assert.deepEqual(got, new Map([...ipv4].map(([mac, addrs]) => [mac, addrs.map((a) => [a, null])])));
  // `vmware-toolbox-cmd info update network` sends v3 only (toolbox/toolboxcmd-info.c): refused, it fails.
  const tool = run(["vmware-toolbox-cmd", "info", "update", "network"], { profile: { nicInfoVersion: 2 } });
  assert.equal(tool.status, 1, tool.stderr);
  assert.equal(tool.report?.guest.nicReport, null);
});

test("machine.id.get: empty without machineId, the profile's value with it (vmware-rpctool, vmtoolsd --cmd)", { skip }, () => {
  const none = run(["vmware-rpctool", "machine.id.get"]);
  assert.equal(none.status, 0, none.stderr);
  assert.equal(none.stdout, "\n");
  const id = "ip=192.0.2.9&netmask=255.255.255.0&computerName=simvm";
  const rpctool = run(["vmware-rpctool", "machine.id.get"], { profile: { machineId: id } });
  assert.equal(rpctool.status, 0, rpctool.stderr);
  assert.equal(rpctool.stdout, id + "\n");
  const cmd = run(["vmtoolsd", "--cmd", "machine.id.get"], { profile: { machineId: id } });
  assert.equal(cmd.status, 0, cmd.stderr);
  assert.equal(cmd.stdout.trim(), id);
  assert.deepEqual(cmd.report?.unknownRpc.commands, {});
});

test("vmware-toolbox-cmd stat raw: the stat list, text session and json host built from the profile", { skip }, () => {
  const profile = { cpuMhz: 3100, uuid: "564d2c53-4356-668e-7c05-fd7e511e23f3", buildNumber: 20036589 };
  const list = run(["vmware-toolbox-cmd", "stat", "raw"], { profile });
  assert.equal(list.status, 0, list.stderr);
  assert.equal(list.stdout, "session\nhost\nresources\n");
  const text = run(["vmware-toolbox-cmd", "stat", "raw", "text", "session"], { profile });
  assert.equal(text.status, 0, text.stderr);
  assert.match(
    text.stdout,
    /^session = 8936827754555253747\nuptime = \d+\nversion = VMware ESXi build-20036589\nprovider =\nuuid\.bios = 56 4d 2c 53 43 56 66 8e-7c 05 fd 7e 51 1e 23 f3\n$/,
  );
  const json = run(["vmware-toolbox-cmd", "stat", "raw", "json", "host"], { profile });
  assert.equal(json.status, 0, json.stderr);
  const host = JSON.parse(json.stdout) as { session: string; metrics: Record<string, { value: number } | string> };
  assert.equal(host.session, "8936827754555253747");
  assert.deepEqual(host.metrics["cpu.processorMHz"], { type: "static", units: "MHz", value: 3100 });
  // The other encodings and stats, and the two stats with no data in the profile (no virtual disks or NICs).
  const more = run(
    [
      "sh",
      "-c",
      ["xml resources", "yaml host", "text vscsi", "text vnet"].map((a) => `vmware-toolbox-cmd stat raw ${a}; echo "exit $?"`).join("; "),
    ],
    { profile },
  );
  assert.match(
    more.stdout,
    /^<metrics session="8936827754555253747">.*<metric name="cpu\.limit" type="static" units="MHz">3100<\/metric>.*<\/metrics>\n?exit 0\n/s,
  );
  assert.match(more.stdout, /\ncpu\.processorMHz:\n {4}type: static\n {4}units: MHz\n {4}value: 3100\n(.|\n)*exit 0\nexit 75\nexit 75\n$/);
  assert.equal(more.stderr, "Failed to get stat: This value is not available on this host\n".repeat(2));
  const ws = run(["vmware-toolbox-cmd", "stat", "raw", "text", "session"], { profile: { vmxType: 4 }, extra: ["--verbose"] });
  assert.equal(ws.status, 75); // EX_TEMPFAIL: Workstation has no extended stats
  assert.match(ws.stderr, /This value is not available on this host/);
  assert.match(ws.stderr, /^vmport: RPCs answered "Unknown command": "guestlib.stat.get" x1$/m);
  assert.deepEqual(ws.report?.unknownRpc.commands, { "guestlib.stat.get": 1 });
});

test("vmware-toolbox-cmd disk list: ESX's wiper is disabled, a hosted product's enabled, an old host's unavailable", { skip }, () => {
  const esx = run(["vmware-toolbox-cmd", "disk", "list"]);
  assert.equal(esx.status, 75, esx.stderr);
  assert.match(esx.stderr, /^Shrink disk is disabled for this virtual machine\./);
  assert.deepEqual(esx.report?.unknownRpc.commands, {});
  const old = run(["vmware-toolbox-cmd", "disk", "list"], { profile: { diskWiper: "unavailable" } });
  assert.equal(old.status, 75);
  assert.match(old.stderr, /^The shrink feature is not available/);
  // Workstation: the tool then lists the shrinkable mount points; this machine's virtio disks are not among the
  // majors the wiper library knows, so it still prints "disabled". The host's answer itself is read from a trace.
  const trace = join(dir, `${n++}-disk.jsonl`);
  const ws = run(["vmware-toolbox-cmd", "disk", "list"], { profile: { vmxType: 4, highBandwidth: false }, extra: ["--trace", trace] });
  assert.equal(ws.status === 0 || ws.status === 75, true, ws.stderr);
  const msgs = messagesFromTrace(
    readFileSync(trace, "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as TraceRecord),
  );
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  const ask = msgs.findIndex((m) => m.from === "guest" && dec(m.bytes).replace(/\0$/, "") === "disk.wiper.enable");
  assert.ok(ask >= 0, "disk.wiper.enable was not sent");
  assert.equal(dec(msgs.slice(ask).find((m) => m.from === "host" && m.channel === msgs[ask]!.channel)!.bytes), "1 1");
});

test("vmware-namespace-cmd set-key / get-value / delete-key round trip, in one VM and across runs through --state", { skip }, () => {
  const state = join(dir, `${n++}-ns-state.json`);
  const ns = (...args: string[]) => run(["vmware-namespace-cmd", ...args], { extra: ["--state", state] });
  const set = ns("set-key", "com.example.agent", "-k", "color", "-v", "blue");
  assert.equal(set.status, 0, set.stdout + set.stderr);
  assert.deepEqual(set.report?.guest.namespaces, { "com.example.agent": { color: "blue" } });
  const get = ns("get-value", "com.example.agent", "-k", "color"); // a new run: the value came from --state
  assert.equal(get.status, 0, get.stderr);
  assert.equal(get.stdout, "blue");
  const del = ns("delete-key", "com.example.agent", "-k", "color");
  assert.equal(del.status, 0, del.stderr);
  const gone = ns("get-value", "com.example.agent", "-k", "color");
  assert.equal(gone.status, 0, gone.stderr);
  assert.equal(gone.stdout, "");
  assert.deepEqual((JSON.parse(readFileSync(state, "utf8")) as { namespaces: unknown }).namespaces, { "com.example.agent": {} });
  const missing = ns("get-value", "com.example.other", "-k", "color");
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /failure: Namespace does not exist/);
  // One VM: set then get in the same run (vmport runs a shell that runs both).
  const one = run(["sh", "-c", "vmware-namespace-cmd set-key ns1 -k k -v 'v 1' && vmware-namespace-cmd get-value ns1 -k k"]);
  assert.equal(one.status, 0, one.stderr);
  assert.equal(one.stdout, "v 1");
});

test("vmware-xferlogs: upd N reaches the report as the vm-support status; enc FILE lands in the guest log", { skip }, () => {
  const upd = run(["vmware-xferlogs", "upd", "0"]);
  assert.equal(upd.status, 0, upd.stderr);
  assert.deepEqual(upd.report?.guest.vmsupportStatus, { code: 0, name: "notRunning" });
  assert.deepEqual(upd.report?.unknownRpc.commands, {});
  const running = run(["vmware-xferlogs", "upd", "2"]);
  assert.deepEqual(running.report?.guest.vmsupportStatus, { code: 2, name: "running" });
  const f = file("support.txt", "support data\n");
  const enc = run(["vmware-xferlogs", "enc", f]);
  assert.equal(enc.status, 0, enc.stderr);
  const lines = enc.report!.log.lines;
  assert.ok(
    lines.some((l) => l.includes(">Logfile Begins ") && l.includes(f)),
    JSON.stringify(lines),
  );
  assert.ok(lines.includes(">" + Buffer.from("support data\n").toString("base64")), JSON.stringify(lines));
});

test("--report: a program killed by a signal is reported with it; a report path in a missing directory is a usage error", {
  skip: ptraceUsable() ? false : "needs Linux on x86-64",
}, () => {
  const killed = run(["sh", "-c", "kill -TERM $$"]);
  assert.equal(killed.status, 143);
  assert.deepEqual(killed.report?.exit, { status: 143, signal: 15, signalName: "SIGTERM" });
  assert.equal(killed.report?.schema, "vmport.report/1");
  const bad = vmport(["run", "--report", join(dir, "no-such-dir", "r.json"), "--", "true"]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^vmport: --report .*no-such-dir.*: directory .*: ENOENT\n$/);
});
