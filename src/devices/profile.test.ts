/** Profile defaults and validation messages that name the bad key. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_PROFILE, MACHINE_ID_MAX_BYTES, resolveProfile } from "./profile.js";
import { isVmportError } from "../core/errors.js";

test("defaults: version 6, ESX Server, hwVersion unset, HB, CPUID, backdoor on", () => {
  const p = resolveProfile({});
  assert.equal(p.vmxVersion, 6);
  assert.equal(p.vmxType, 2);
  assert.equal(p.hwVersion, null);
  assert.equal(p.timeOffsetSeconds, 0);
  assert.equal(p.maxTimeLagUs, 1_000_000);
  assert.equal(p.highBandwidth, true);
  assert.equal(p.cpuid, true);
  assert.equal(p.backdoor, true);
  assert.equal(p.tcloTrailingNul, false);
  assert.deepEqual(p, { ...DEFAULT_PROFILE, devices: [], guestlib: { ...DEFAULT_PROFILE.guestlib } });
});

test("given keys override defaults; the result is a fresh copy", () => {
  const p = resolveProfile({ memSizeMb: 8192, hwVersion: 19, devices: [{ name: "ide1:0", enabled: true }] });
  assert.equal(p.memSizeMb, 8192);
  assert.equal(p.hwVersion, 19);
  p.devices.push({ name: "x", enabled: false });
  assert.equal(resolveProfile({}).devices.length, 0);
});

function rejects(input: unknown, re: RegExp): void {
  assert.throws(
    () => resolveProfile(input),
    (e: unknown) => isVmportError(e) && e.code === "VMPORT_BAD_PROFILE" && re.test(e.message),
  );
}

test("validation names the key and why", () => {
  rejects({ vmxVersoin: 6 }, /"vmxVersoin": unknown key/);
  rejects({ memSizeMb: 0 }, /"memSizeMb": 0 is outside 1\.\./);
  rejects({ cpuMhz: 2.5 }, /"cpuMhz": expected an integer/);
  rejects({ highBandwidth: "yes" }, /"highBandwidth": expected true or false/);
  rejects({ tcloTrailingNul: 1 }, /"tcloTrailingNul": expected true or false/);
  rejects({ uuid: "not-a-uuid" }, /"uuid": expected 8-4-4-4-12/);
  rejects({ narrowAccess: "ignore" }, /"narrowAccess"/);
  rejects({ screenWidth: 40000 }, /"screenWidth": 40000 is outside 1\.\.32767/);
  rejects({ timeOffsetSeconds: 100000 }, /"timeOffsetSeconds"/);
  rejects({ devices: [{ name: "a".repeat(32), enabled: true }] }, /"devices\[0\]\.name": 32 bytes; at most 31/);
  rejects({ devices: [{ name: "cd", enabled: true, extra: 1 }] }, /"devices\[0\]\.extra": unknown key/);
  rejects({ devices: Array.from({ length: 51 }, () => ({ name: "d", enabled: true })) }, /at most 50/);
  rejects([], /expected a JSON object/);
  rejects(null, /expected a JSON object/);
});

test("machineId and diskWiper: defaults unset, accepted values, bounds named", () => {
  assert.equal(resolveProfile({}).machineId, null);
  assert.equal(resolveProfile({}).diskWiper, null);
  assert.equal(resolveProfile({ machineId: "ip=192.0.2.9&computerName=simvm" }).machineId, "ip=192.0.2.9&computerName=simvm");
  assert.equal(resolveProfile({ machineId: "é".repeat(MACHINE_ID_MAX_BYTES / 2) }).machineId?.length, MACHINE_ID_MAX_BYTES / 2);
  rejects({ machineId: "é".repeat(MACHINE_ID_MAX_BYTES / 2) + "x" }, /"machineId": expected a string of at most 65534 bytes/);
  rejects({ machineId: 7 }, /"machineId"/);
  for (const w of ["enabled", "disabled", "unavailable"] as const) assert.equal(resolveProfile({ diskWiper: w }).diskWiper, w);
  rejects({ diskWiper: true }, /"diskWiper": expected "enabled", "disabled", "unavailable" or null/);
});

test("keys an object inherits (__proto__, constructor, toString, …) are unknown keys, at every level", () => {
  for (const k of ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"]) {
    // JSON.parse makes "__proto__" an ordinary own key, as in a profile file.
    rejects(JSON.parse(`{"${k}": 1}`), new RegExp(`"${k}": unknown key`));
    rejects(JSON.parse(`{"guestlib": {"${k}": 1}}`), new RegExp(`"guestlib\\.${k}": unknown key`));
    rejects(JSON.parse(`{"devices": [{"name": "cd", "enabled": true, "${k}": 1}]}`), new RegExp(`"devices\\[0\\]\\.${k}": unknown key`));
  }
  // Inherited values are not read: a device must own its name and enabled flag.
  rejects({ devices: [Object.create({ name: "cd", enabled: true })] }, /"devices\[0\]\.name"/);
  rejects({ devices: [["cd", true]] }, /"devices\[0\]": expected \{name, enabled\}/);
  assert.equal(resolveProfile({ guestlib: { cpuShares: 7 } }).guestlib.cpuShares, 7);
});
