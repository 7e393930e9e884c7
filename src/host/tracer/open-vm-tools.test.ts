/**
 * Conformance: the real, unmodified open-vm-tools programs under `vmport run` (Debian's package). CPUID
 * virtualisation makes them see "VMwareVMware" on this KVM-hosted machine; every backdoor call is emulated.
 * Safety: vmtoolsd runs with a private plugin directory holding only libguestInfo.so, an empty common directory and
 * a private config, and receives only ping, Capabilities_Register and Set_Option broadcastIP 1 (plus the automatic
 * reset) — never OS_Halt, OS_Reboot, Time_Synchronize, vmbackup.*, deployPkg.* or Vix_*.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { needs, ptraceUsable, runs, vmport } from "../../test-support/system.js";

const ovt = needs("open-vm-tools", "open-vm-tools", () => runs("vmware-checkvm", ["-h"]) && existsSync("/usr/bin/vmware-rpctool"));
const skip = ovt || (ptraceUsable() ? false : "needs Linux on x86-64");
const dir = mkdtempSync(join(tmpdir(), "vmport-ovt-"));

function profile(p: object): string {
  const f = join(dir, `profile-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(f, JSON.stringify(p));
  return f;
}

test("vmware-checkvm: version 6 (good); -p names the product type; without CPUID help it refuses", { skip }, () => {
  const ok = vmport(["run", "--", "vmware-checkvm"]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), "VMware software version 6 (good)");
  assert.equal(vmport(["run", "--", "vmware-checkvm", "-p"]).stdout.trim(), "ESX Server");
  assert.equal(vmport(["run", "--profile", profile({ vmxType: 4 }), "--", "vmware-checkvm", "-p"]).stdout.trim(), "Workstation");
  const no = vmport(["run", "--profile", profile({ cpuid: false }), "--", "vmware-checkvm"]);
  assert.equal(no.status, 1);
  assert.match(no.stdout + no.stderr, /must be run inside a virtual machine/);
});

test("vmware-rpctool: info-get over HB and over LB (highBandwidth false), missing keys, info-set", { skip }, () => {
  const hb = vmport(["run", "--guestinfo", "foo=bar", "--trace", join(dir, "hb.jsonl"), "--", "vmware-rpctool", "info-get guestinfo.foo"]);
  assert.equal(hb.status, 0, hb.stderr);
  assert.equal(hb.stdout, "bar\n");
  const hbTrace = readFileSync(join(dir, "hb.jsonl"), "utf8");
  assert.match(hbTrace, /"op":"outs"/, "the request went over HB (rep outsb)");
  const lb = vmport([
    "run",
    "--profile",
    profile({ highBandwidth: false }),
    "--guestinfo",
    "guestinfo.foo=bar",
    "--trace",
    join(dir, "lb.jsonl"),
    "--",
    "vmware-rpctool",
    "info-get guestinfo.foo",
  ]);
  assert.equal(lb.stdout, "bar\n");
  assert.doesNotMatch(readFileSync(join(dir, "lb.jsonl"), "utf8"), /"op":"(outs|ins)"/, "LB only");
  const missing = vmport(["run", "--", "vmware-rpctool", "info-get guestinfo.nonexist"]);
  assert.equal(missing.status, 1);
  assert.equal(missing.stderr.trim(), "No value found");
});

test("a value set in one run is read back in the next through --state", { skip }, () => {
  const state = join(dir, "state.json");
  assert.equal(vmport(["run", "--state", state, "--", "vmware-rpctool", "info-set guestinfo.x y"]).status, 0);
  const r = vmport(["run", "--state", state, "--", "vmware-rpctool", "info-get guestinfo.x"]);
  assert.equal(r.stdout, "y\n");
});

test("vmware-toolbox-cmd stat hosttime|speed|sessionid|balloon|memlimit and timesync status", { skip }, () => {
  const p = profile({ cpuMhz: 3100, memSizeMb: 8192, uuid: "564d0000-0000-0000-1122-334455667788", guestlib: { memBalloonedMb: 128 } });
  const stat = (what: string) => vmport(["run", "--profile", p, "--", "vmware-toolbox-cmd", "stat", what]);
  assert.match(stat("hosttime").stdout.trim(), /^\d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}$/);
  assert.equal(stat("speed").stdout.trim(), "3100 MHz");
  assert.equal(stat("sessionid").stdout.trim(), "0x1122334455667788");
  assert.equal(stat("balloon").stdout.trim(), "128 MB");
  assert.equal(stat("memlimit").stdout.trim(), "8192 MB");
  const ts = vmport(["run", "--", "vmware-toolbox-cmd", "timesync", "status"]);
  assert.equal(ts.stdout.trim(), "Disabled");
  const on = vmport(["run", "--profile", profile({ guiOptions: 0x400 }), "--", "vmware-toolbox-cmd", "timesync", "status"]);
  assert.equal(on.stdout.trim(), "Enabled");
});

test("vmtoolsd (private plugin dir): reset, ping, Capabilities_Register, Set_Option broadcastIP 1; state has guestinfo.ip and the version", {
  skip,
}, () => {
  const plug = join(dir, "plugins");
  const common = join(dir, "common");
  mkdirSync(plug, { recursive: true });
  mkdirSync(common, { recursive: true });
  const lib = ["/usr/lib/x86_64-linux-gnu/open-vm-tools/plugins/vmsvc/libguestInfo.so"].find((p) => existsSync(p));
  assert.ok(lib, "libguestInfo.so not found");
  if (!existsSync(join(plug, "libguestInfo.so"))) symlinkSync(lib, join(plug, "libguestInfo.so"));
  const conf = join(dir, "tools.conf");
  writeFileSync(conf, "[logging]\nlog = true\nvmsvc.level = message\nvmsvc.handler = std\n");
  const state = join(dir, "vmtoolsd.json");
  const r = vmport(
    [
      "run",
      "--verbose",
      "--state",
      state,
      "--tclo",
      "ping",
      "--tclo",
      "Capabilities_Register",
      "--tclo",
      "Set_Option broadcastIP 1",
      "--",
      "timeout",
      "-s",
      "TERM",
      "8",
      "vmtoolsd",
      "-n",
      "vmsvc",
      "-c",
      conf,
      "-p",
      plug,
      "--common-path",
      common,
    ],
    { timeoutMs: 60_000 },
  );
  assert.equal(r.status, 124, r.stderr); // timeout's status: vmtoolsd ran until it was told to stop
  assert.match(r.stderr, /vmport: tclo "ping": OK/);
  assert.match(r.stderr, /vmport: tclo "Capabilities_Register": OK/);
  assert.match(r.stderr, /vmport: tclo "Set_Option broadcastIP 1": OK/);
  const gi = JSON.parse(readFileSync(state, "utf8")).guestinfo as Record<string, string>;
  assert.match(gi["guestinfo.ip"] ?? "", /^[0-9a-f.:]+$/);
  assert.equal(gi["guestinfo.vmtools.versionNumber"], "12352");
});
