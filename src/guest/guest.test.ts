/**
 * The Node guest library and `vmport guest` under `vmport run`, with the expectations of the open-vm-tools
 * conformance tests (and interoperating with the real vmware-rpctool through `--state`); outside `vmport run` the
 * probe answers "not VMware" without crashing; `vmport demo`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, needs, ptraceUsable, runs, vmport } from "../test-support/system.js";
import { detect } from "./backdoor.js";
import { probeInChild } from "./child-probe.js";

const skip = ptraceUsable() ? false : "needs Linux on x86-64";
const ovtSkip =
  skip || needs("open-vm-tools", "open-vm-tools", () => runs("vmware-checkvm", ["-h"]) && existsSync("/usr/bin/vmware-rpctool"));
const CLI = join(ROOT, "src/cli/main.ts");
/** `vmport run [runArgs] -- node <cli> guest …` */
const guest = (runArgs: string[], ...args: string[]) =>
  vmport(["run", ...runArgs, "--", process.execPath, "--import", "tsx", CLI, "guest", ...args]);

test("outside vmport run the probe says 'not VMware' and this process survives", { skip }, () => {
  const d = detect();
  assert.equal(d.backdoor, false);
  assert.equal(d.version, null);
  const r = vmport(["guest", "info-get", "foo"]);
  assert.equal(r.status, 255);
  assert.match(r.stderr, /must be run inside a virtual machine/);
  const c = vmport(["guest", "check"]);
  assert.equal(c.status, 1);
  assert.match(c.stderr, /^Error: vmport guest check must be run inside a virtual machine/);
  const p = probeInChild();
  assert.deepEqual([p.via, p.answered, p.signal], ["native", false, "SIGSEGV"]);
});

/** A profile file in a fresh directory. */
function profileFile(profile: object): string {
  const f = join(mkdtempSync(join(tmpdir(), "vmport-guest-")), "profile.json");
  writeFileSync(f, JSON.stringify(profile));
  return f;
}

const detectScript = (runArgs: string[]) =>
  vmport(["run", ...runArgs, "--", process.execPath, "--import", "tsx", join(ROOT, "src/guest/testdata/detect.ts")]);

test("a host whose backdoor faults (backdoor: false under vmport run): check exits 1 as vmware-checkvm does, detect() says no, nothing crashes", {
  skip,
}, () => {
  const nobd = profileFile({ backdoor: false });
  for (const args of [["check"], ["check", "-p"]]) {
    const c = guest(["--profile", nobd], ...args);
    assert.equal(c.status, 1, `${args.join(" ")}: ${c.stdout}${c.stderr}`);
    assert.equal(c.stderr, "Error: vmport guest check must be run inside a virtual machine on a VMware hypervisor product.\n");
    assert.equal(c.stdout, "");
  }
  const g = guest(["--profile", nobd], "info-get", "foo");
  assert.equal(g.status, 255);
  assert.match(g.stderr, /must be run inside a virtual machine/);
  // The library: the CPUID signature says VMware, GETVERSION faults; both kinds of child die, the caller does not.
  const r = detectScript(["--profile", nobd]);
  assert.equal(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout) as Record<string, Record<string, unknown>>;
  assert.deepEqual(o["detect"], { hypervisor: "VMwareVMware", backdoor: false, version: null, productType: null });
  for (const via of ["native", "node"]) {
    assert.equal(o[via]!["via"], via);
    assert.equal(o[via]!["answered"], false);
    assert.equal(o[via]!["signal"], "SIGSEGV");
  }
  // A host that answers, but not version 6: check refuses it as vmware-checkvm does.
  assert.equal(guest(["--profile", profileFile({ vmxVersion: 5 })], "check").status, 1);
});

test("vmport guest check and vmware-checkvm agree on a host without a working backdoor", { skip: ovtSkip }, () => {
  const nobd = profileFile({ backdoor: false });
  const ours = guest(["--profile", nobd], "check");
  const theirs = vmport(["run", "--profile", nobd, "--", "vmware-checkvm"]);
  assert.equal(theirs.status, 1);
  assert.equal(ours.status, theirs.status);
  assert.equal(ours.stderr.replace("vmport guest check", "vmware-checkvm"), theirs.stderr);
});

test("both child probes read GETVERSION under vmport run", { skip }, () => {
  const r = detectScript([]);
  assert.equal(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout) as Record<string, Record<string, unknown>>;
  assert.deepEqual(o["detect"], { hypervisor: "VMwareVMware", backdoor: true, version: 6, productType: 2 });
  for (const via of ["native", "node"])
    assert.deepEqual(o[via], { answered: true, version: 6, magic: 0x564d5868, productType: 2, via, signal: null });
});

test("every API call under vmport run, over HB and LB", { skip }, () => {
  const r = vmport(["run", "--guestinfo", "foo=bar", "--", process.execPath, "--import", "tsx", join(ROOT, "src/guest/testdata/api.ts")]);
  assert.equal(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(o["detect"], { hypervisor: "VMwareVMware", backdoor: true, version: 6, productType: 2 });
  assert.deepEqual(o["version"], { version: 6, productType: 2 });
  assert.equal(o["getHb"], "bar");
  assert.equal(o["getLb"], "bar");
  assert.equal(o["missing"], null);
  assert.deepEqual(o["readBack"], ["set over HB", "set over LB"]);
  assert.equal(o["hostTimeOk"], true);
  assert.deepEqual(o["unknown"], { ok: false, text: "Unknown command" });
  assert.equal(o["big"], true);
});

test("vmport guest: check, check -p, info-get (HB and --lb), missing key, info-set — rpctool/checkvm compatible", { skip }, () => {
  const c = guest([], "check");
  assert.equal(c.stdout, "VMware software version 6 (good)\n");
  assert.equal(guest([], "check", "-p").stdout, "ESX Server\n");
  assert.equal(guest(["--guestinfo", "foo=bar"], "info-get", "foo").stdout, "bar\n");
  assert.equal(guest(["--guestinfo", "foo=bar"], "--lb", "info-get", "guestinfo.foo").stdout, "bar\n");
  const m = guest([], "info-get", "nonexist");
  assert.equal(m.status, 1);
  assert.equal(m.stderr.trim(), "No value found");
  assert.equal(guest([], "rpc", "frobnicate").stderr.trim(), "Unknown command");
});

test("vmware-rpctool and vmport guest read each other's guestinfo through --state", { skip: ovtSkip }, () => {
  const state = join(mkdtempSync(join(tmpdir(), "vmport-guest-")), "vm.json");
  assert.equal(vmport(["run", "--state", state, "--", "vmware-rpctool", "info-set guestinfo.a from-rpctool"]).status, 0);
  assert.equal(guest(["--state", state], "info-get", "a").stdout, "from-rpctool\n");
  assert.equal(guest(["--state", state], "info-set", "b", "from", "node").status, 0);
  assert.equal(vmport(["run", "--state", state, "--", "vmware-rpctool", "info-get guestinfo.b"]).stdout, "from node\n");
});

test("vmport demo: a real guest against the simulated host, and what the host recorded", { skip }, () => {
  const r = vmport(["demo"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^guest: detect → CPUID says "VMwareVMware", backdoor answers: version 6, product ESX Server$/m);
  assert.match(r.stdout, /^guest: info-get guestinfo\.demo\.greeting → "hello from the guest"$/m);
  assert.match(r.stdout, /^guest: info-get guestinfo\.metadata → "\{\\"instance-id\\":\\"demo-1\\"\}"$/m);
  assert.match(r.stdout, /^host: {2}recorded guestinfo\.demo\.greeting = "hello from the guest"$/m);
  assert.match(r.stdout, /^host: {2}recorded log: \["vmport demo: a log line from the guest"\]$/m);
});
