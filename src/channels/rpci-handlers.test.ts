/**
 * The standard RPCI commands through a real channel exchange: guestinfo texts cloud-init compares, case-insensitive
 * keys (vmwgfx), limits, tools version/capabilities, `vmx.set_option synctime` → GETGUIOPTIONS, `SetGuestInfo`
 * reports, `guestlib.info.get` v2 layout and v3 refusal.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtualClock } from "../core/clock.js";
import { SeededRandom } from "../core/random.js";
import { VirtualMachine } from "../vm/virtual-machine.js";
import type { VmProfileInput } from "../devices/profile.js";
import { ClientChannel, Guest, LB, RPCI, rpcOne } from "../test-support/guest.js";
import { GUESTINFO_MAX_VALUE_BYTES } from "./guestinfo-store.js";
import { GUESTLIB_V2_SIZE } from "./rpci-handlers.js";

const enc = new TextEncoder();

function setup(profile: VmProfileInput = {}) {
  const clock = new VirtualClock();
  const vm = new VirtualMachine({ profile, clock, random: new SeededRandom(9) });
  return { vm, clock, g: new Guest(vm) };
}

/** Send raw bytes as one RPCI request (binary-safe, unlike the text helper) and return the reply bytes. */
function rpcBytes(g: Guest, msg: Uint8Array): Uint8Array {
  const ch = new ClientChannel(g);
  assert.ok(ch.open(RPCI));
  assert.ok(ch.send(msg));
  const r = ch.receive();
  assert.ok(ch.close());
  if (!(r instanceof Uint8Array)) assert.fail("no reply");
  return r;
}

test("cloud-init's guestinfo traffic: values, 'No value found', empty value as one space, redaction", () => {
  const { vm, g } = setup();
  vm.messaging.guestinfo.set("metadata", "eyJpbnN0YW5jZS1pZCI6ICJzaW0tMDAwMSJ9");
  vm.messaging.guestinfo.set("metadata.encoding", "base64");
  assert.equal(rpcOne(g, "info-get guestinfo.metadata"), "1 eyJpbnN0YW5jZS1pZCI6ICJzaW0tMDAwMSJ9");
  assert.equal(rpcOne(g, "info-get guestinfo.metadata.encoding"), "1 base64");
  assert.equal(rpcOne(g, "info-get guestinfo.vendordata"), "0 No value found");
  assert.equal(rpcOne(g, "info-set guestinfo.userdata ---"), "1 ");
  assert.equal(rpcOne(g, "info-set guestinfo.userdata.encoding  "), "1 "); // empty value sent as a single space
  assert.equal(vm.messaging.guestinfo.getText("guestinfo.userdata.encoding"), " ");
  assert.equal(rpcOne(g, "info-set guestinfo.local-ipv4 192.0.2.10"), "1 ");
  assert.equal(vm.messaging.guest.snapshot().guestinfo["guestinfo.local-ipv4"], "192.0.2.10");
});

test("keys are case-insensitive (vmwgfx asks for GuestInfo.svga.gl3); non-guestinfo keys are not served", () => {
  const { vm, g } = setup();
  vm.messaging.guestinfo.set("guestinfo.svga.gl3", "TRUE");
  assert.equal(rpcOne(g, "info-get GuestInfo.svga.gl3", {}, true), "1 TRUE");
  assert.equal(rpcOne(g, "info-get answer.to.everything"), "0 No value found");
  assert.equal(rpcOne(g, "info-set other.key 1"), "0 Invalid key");
  assert.equal(rpcOne(g, "info-set guestinfo.novalue"), "0 Two and exactly two arguments expected");
});

test("guestinfo limits answer '0 …' and leave the store unchanged", () => {
  const { vm, g } = setup();
  assert.equal(rpcOne(g, `info-set guestinfo.${"k".repeat(300)} v`), "0 Key is too long");
  const max = "v".repeat(GUESTINFO_MAX_VALUE_BYTES - 40); // a request must fit in one 64 KiB message
  assert.equal(rpcOne(g, `info-set guestinfo.big ${max}`), "1 ");
  assert.equal(rpcOne(g, "info-get guestinfo.big"), "1 " + max);
  assert.equal(vm.messaging.guestinfo.size, 1);
});

test("binary values survive info-set/info-get untouched", () => {
  const { vm, g } = setup();
  const value = Uint8Array.from({ length: 256 }, (_, i) => i);
  const msg = new Uint8Array([...enc.encode("info-set guestinfo.bin "), ...value]);
  assert.deepEqual([...rpcBytes(g, msg)], [...enc.encode("1 ")]);
  assert.deepEqual([...vm.messaging.guestinfo.get("guestinfo.bin")!], [...value]);
});

test("tools version, version type, capabilities and state change reach the guest model", () => {
  const { vm, g } = setup();
  assert.equal(rpcOne(g, "tools.set.versiontype 12352 4", {}, true), "1 ");
  assert.equal(rpcOne(g, "tools.capability.statechange "), "1 ");
  assert.equal(rpcOne(g, "tools.capability.hgfs_server toolbox 1", {}, true), "1 ");
  assert.equal(rpcOne(g, "tools.os.statechange.status 1 2", {}, true), "1 ");
  assert.equal(rpcOne(g, "tools.set.version banana"), "0 Invalid version");
  const s = vm.messaging.guest.snapshot();
  assert.equal(s.toolsVersion, 12352);
  assert.equal(s.toolsVersionType, 4);
  assert.equal(s.capabilities["tools.capability.hgfs_server"], "toolbox 1");
  assert.equal(s.capabilities["tools.capability.statechange"], "");
  assert.deepEqual(s.osStateChange, { success: true, state: 2 });
});

test("vmx.set_option synctime 0 1 turns on GUI option 0x400, which GETGUIOPTIONS (timesync status) reads", () => {
  const { vm, g } = setup();
  assert.equal(rpcOne(g, "vmx.set_option synctime 0 1", {}, true), "1 ");
  const out = g.call("in", { ecx: 13, edx: LB });
  assert.equal(out.eax & 0x400, 0x400);
  assert.equal(vm.messaging.guest.snapshot().vmxOptions["synctime"], "1");
  rpcOne(g, "vmx.set_option synctime 1 0");
  assert.equal(g.call("in", { ecx: 13, edx: LB }).eax & 0x400, 0);
  assert.equal(rpcOne(g, "vmx.set_option synctime"), "0 Invalid arguments");
});

test("SetGuestInfo text types (with their NUL), uptime in hundredths, unknown types refused", () => {
  const { vm, g } = setup();
  assert.equal(rpcOne(g, "SetGuestInfo  1 simvm", {}, true), "1 ");
  assert.equal(rpcOne(g, "SetGuestInfo  4 build-21223074", {}, true), "1 ");
  assert.equal(rpcOne(g, "SetGuestInfo  5 Debian GNU/Linux 12 (bookworm)", {}, true), "1 ");
  assert.equal(rpcOne(g, "SetGuestInfo  6 debian12-64", {}, true), "1 ");
  assert.equal(rpcOne(g, "SetGuestInfo  7 123906", {}, true), "1 ");
  assert.equal(rpcOne(g, "SetGuestInfo  8 whatever"), "1 ");
  assert.equal(rpcOne(g, "SetGuestInfo  99 x"), "0 Invalid GuestInfo type");
  assert.equal(rpcOne(g, "SetGuestInfo  x"), "0 Invalid GuestInfo type");
  const s = vm.messaging.guest.snapshot();
  assert.deepEqual([s.hostname, s.toolsBuild, s.osNameFull, s.osName, s.uptimeSeconds], ["simvm", "build-21223074", "Debian GNU/Linux 12 (bookworm)", "debian12-64", 1239.06]);
});

test("SetGuestDiskInfo JSON with base64 mount points; a malformed report fails so the plugin falls back", () => {
  const { vm, g } = setup();
  const json = '{\n"version":"1",\n"disks":[\n{"name":"Lw==","free":"1000","size":"4000","fstype":"ext4","devices":["scsi0:0"]}\n]}';
  assert.equal(rpcOne(g, "SetGuestDiskInfo " + json, {}, true), "1 ");
  assert.deepEqual(vm.messaging.guest.snapshot().disks, [{ name: "/", freeBytes: 1000, totalBytes: 4000, filesystem: "ext4" }]);
  assert.equal(rpcOne(g, "SetGuestDiskInfo {not json"), "0 Invalid disk info");
});

test("guestlib.info.get: v3 refused (the client retries), v2 is 669 bytes laid out as libguestlib reads it", () => {
  const { g, clock } = setup({ cpuMhz: 3000, memSizeMb: 4096, uuid: "564d0000-0000-0000-1122-334455667788", guestlib: { memBalloonedMb: 128 } });
  assert.equal(rpcOne(g, "guestlib.info.get 3", {}, true), "0 Unsupported version");
  clock.advance(5_000_000_000n);
  const r = rpcBytes(g, enc.encode("guestlib.info.get 2"));
  assert.equal(r.length, 2 + GUESTLIB_V2_SIZE);
  assert.deepEqual([...r.subarray(0, 2)], [0x31, 0x20]); // "1 "
  const dv = new DataView(r.buffer, r.byteOffset + 2);
  assert.equal(dv.getUint32(0, true), 2); // version
  assert.equal(dv.getBigUint64(4, true), 0x1122334455667788n); // session id from the UUID's last 8 bytes
  assert.equal(dv.getUint8(20), 1); // cpuLimitMHz valid
  assert.equal(dv.getUint32(24, true), 3000); // = cpuMhz
  assert.equal(dv.getUint32(52, true), 3000); // hostMHz
  assert.equal(dv.getUint32(68, true), 4096); // memLimitMB = memSizeMb
  assert.equal(dv.getUint32(108, true), 128); // memBalloonedMB
  assert.equal(dv.getBigUint64(148, true), 5000n); // elapsedMs on the VM clock
  assert.equal(dv.getUint8(156), 1); // resourcePoolPath valid
  assert.equal(String.fromCharCode(dv.getUint8(157)), "/");
});

test("guest.log.* is accepted; guest.log.text lands in the log", () => {
  const { vm, g } = setup();
  assert.equal(rpcOne(g, "guest.log.state 1"), "1 ");
  assert.equal(rpcOne(g, "guest.log.text hello"), "1 ");
  assert.deepEqual(vm.messaging.guest.snapshot().log, ["hello"]);
});
