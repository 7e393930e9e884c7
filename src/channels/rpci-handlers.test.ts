/**
 * The standard RPCI commands through a real channel exchange: guestinfo texts cloud-init compares, case-insensitive
 * keys (vmwgfx), limits, tools version/capabilities, `vmx.set_option synctime` → GETGUIOPTIONS, `SetGuestInfo`
 * reports (the captured real NIC reports of every version, and the profile's `nicInfoVersion`),
 * `guestlib.info.get` v2 layout and v3 refusal, `guestlib.stat.get`, `machine.id.get`, `disk.wiper.enable`,
 * `tools.vmsupport.status`, the namespace database, containerInfo, and unknown commands counted per name.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtualClock } from "../core/clock.js";
import { SeededRandom } from "../core/random.js";
import { VirtualMachine } from "../vm/virtual-machine.js";
import { durableGeneration, saveDurableState } from "../vm/persistence.js";
import type { VmProfileInput } from "../devices/profile.js";
import { ClientChannel, Guest, LB, RPCI, rpcOne } from "../test-support/backdoor-client.js";
import { GUESTINFO_MAX_VALUE_BYTES } from "./guestinfo-store.js";
import { GUESTLIB_V2_SIZE } from "./rpci-handlers.js";
import { REAL_NIC_V1, REAL_NIC_V2, REAL_NIC_V3 } from "./testdata/nic-reports.js";

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
  assert.equal(vm.messaging.reported.snapshot().guestinfo["guestinfo.local-ipv4"], "192.0.2.10");
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
  const s = vm.messaging.reported.snapshot();
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
  assert.equal(vm.messaging.reported.snapshot().vmxOptions["synctime"], "1");
  rpcOne(g, "vmx.set_option synctime 1 0");
  assert.equal(g.call("in", { ecx: 13, edx: LB }).eax & 0x400, 0);
  assert.equal(rpcOne(g, "vmx.set_option synctime"), "0 Invalid arguments");
});

test("vmx.set_option synctime is a durable change: the state generation moves when the bit flips, not otherwise", () => {
  const { vm, g } = setup({ guiOptions: 0x3 });
  const gen = () => durableGeneration(vm);
  const g0 = gen();
  rpcOne(g, "vmx.set_option synctime 0 1", {}, true); // vmware-toolbox-cmd timesync enable
  assert.equal(gen(), g0 + 1);
  assert.equal(saveDurableState(vm).guiOptions, 0x403);
  rpcOne(g, "vmx.set_option synctime 0 1", {}, true); // already on: nothing to save
  assert.equal(gen(), g0 + 1);
  rpcOne(g, "vmx.set_option synctime 1 0", {}, true);
  assert.equal(gen(), g0 + 2);
  assert.equal(saveDurableState(vm).guiOptions, 0x3);
  rpcOne(g, "vmx.set_option broadcastIP 0 1"); // recorded in the model, not durable state
  assert.equal(gen(), g0 + 2);
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
  const s = vm.messaging.reported.snapshot();
  assert.deepEqual(
    [s.hostname, s.toolsBuild, s.osNameFull, s.osName, s.uptimeSeconds],
    ["simvm", "build-21223074", "Debian GNU/Linux 12 (bookworm)", "debian12-64", 1239.06],
  );
});

test("SetGuestDiskInfo JSON with base64 mount points; a malformed report fails so the plugin falls back", () => {
  const { vm, g } = setup();
  const json = '{\n"version":"1",\n"disks":[\n{"name":"Lw==","free":"1000","size":"4000","fstype":"ext4","devices":["scsi0:0"]}\n]}';
  assert.equal(rpcOne(g, "SetGuestDiskInfo " + json, {}, true), "1 ");
  assert.deepEqual(vm.messaging.reported.snapshot().disks, [{ name: "/", freeBytes: 1000, totalBytes: 4000, filesystem: "ext4" }]);
  assert.equal(rpcOne(g, "SetGuestDiskInfo {not json"), "0 Invalid disk info");
});

test("guestlib.info.get: v3 refused (the client retries), v2 is 669 bytes laid out as libguestlib reads it", () => {
  const { g, clock } = setup({
    cpuMhz: 3000,
    memSizeMb: 4096,
    uuid: "564d0000-0000-0000-1122-334455667788",
    guestlib: { memBalloonedMb: 128 },
  });
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
  assert.deepEqual(vm.messaging.reported.snapshot().log, ["hello"]);
});

test("the captured NIC reports reach the model whole over a real channel; a malformed one answers 0 and changes nothing", () => {
  const { vm, g } = setup();
  assert.equal(new TextDecoder().decode(rpcBytes(g, REAL_NIC_V3)), "1 ");
  const s = vm.messaging.reported.snapshot();
  assert.deepEqual(
    s.nics[0]?.ips.map((a) => `${a.address}/${a.prefixLength}`),
    ["192.0.2.2/24", "fd00::2/64", "fe80::fc:ff:fe00:1/64"],
  );
  assert.equal(s.routes.length, 8);
  assert.deepEqual(s.dns?.servers, ["10.255.255.53"]);
  assert.deepEqual(s.nicReport, { type: 10, version: 3 });
  assert.equal(s.toolsRunning, true);
  const before = JSON.stringify(vm.messaging.reported.snapshot());
  const cut = REAL_NIC_V3.subarray(0, REAL_NIC_V3.length - 1); // the bug this guards against: one byte short
  assert.equal(new TextDecoder().decode(rpcBytes(g, cut)), "0 Invalid NIC info");
  assert.equal(JSON.stringify(vm.messaging.reported.snapshot()), before);
  // The older encodings replace the model (an older report says less: no routes, no DNS).
  assert.equal(new TextDecoder().decode(rpcBytes(g, REAL_NIC_V2)), "1 ");
  assert.deepEqual(vm.messaging.reported.snapshot().nicReport, { type: 9, version: 2 });
  assert.deepEqual(vm.messaging.reported.snapshot().routes, []);
  assert.equal(new TextDecoder().decode(rpcBytes(g, REAL_NIC_V1)), "1 ");
  assert.deepEqual(vm.messaging.reported.snapshot().nicReport, { type: 2, version: 1 });
  assert.deepEqual(
    vm.messaging.reported.snapshot().nics[0]?.ips.map((a) => a.address),
    ["192.0.2.2"],
  );
});

test("profile nicInfoVersion: an older host refuses type 10 and encodings newer than its own", () => {
  const v3on9 = new Uint8Array([...enc.encode("SetGuestInfo  9 "), ...REAL_NIC_V3.subarray("SetGuestInfo  10 ".length)]);
  const answers = (nicInfoVersion: 1 | 2 | 3) => {
    const { g } = setup({ nicInfoVersion });
    return [REAL_NIC_V3, v3on9, REAL_NIC_V2, REAL_NIC_V1].map((m) => new TextDecoder().decode(rpcBytes(g, m)));
  };
  assert.deepEqual(answers(3), ["1 ", "1 ", "1 ", "1 "]);
  assert.deepEqual(answers(2), ["0 Invalid GuestInfo type", "0 Invalid NIC info", "1 ", "1 "]);
  assert.deepEqual(answers(1), ["0 Invalid GuestInfo type", "0 Invalid NIC info", "0 Invalid NIC info", "1 "]);
});

test("machine.id.get answers the profile's machineId, an empty string when unset", () => {
  assert.equal(rpcOne(setup().g, "machine.id.get"), "1 ");
  const id = "ip=192.0.2.9&netmask=255.255.255.0&computerName=simvm";
  assert.equal(rpcOne(setup({ machineId: id }).g, "machine.id.get"), "1 " + id);
  assert.equal(rpcOne(setup({ machineId: id }).g, "machine.id.get", {}, true), "1 " + id); // with vmtoolsd's NUL
});

test("disk.wiper.enable: ESX disabled, hosted products enabled, or as the profile says", () => {
  assert.equal(rpcOne(setup().g, "disk.wiper.enable"), "1 0");
  assert.equal(rpcOne(setup({ vmxType: 4 }).g, "disk.wiper.enable"), "1 1");
  assert.equal(rpcOne(setup({ diskWiper: "enabled" }).g, "disk.wiper.enable"), "1 1");
  assert.equal(rpcOne(setup({ vmxType: 4, diskWiper: "disabled" }).g, "disk.wiper.enable"), "1 0");
  const { vm, g } = setup({ diskWiper: "unavailable" });
  assert.equal(rpcOne(g, "disk.wiper.enable"), "0 Unknown command");
  assert.deepEqual(vm.messaging.rpci.unknownCommands(), { "disk.wiper.enable": 1 });
});

test("tools.vmsupport.status N (vmware-xferlogs upd N) reaches the model by number and name", () => {
  const { vm, g } = setup();
  assert.equal(rpcOne(g, "tools.vmsupport.status 2"), "1 ");
  assert.deepEqual(vm.messaging.reported.snapshot().vmsupportStatus, { code: 2, name: "running" });
  assert.equal(rpcOne(g, "tools.vmsupport.status 0"), "1 ");
  assert.deepEqual(vm.messaging.reported.snapshot().vmsupportStatus, { code: 0, name: "notRunning" });
  assert.equal(rpcOne(g, "tools.vmsupport.status -7"), "1 ");
  assert.deepEqual(vm.messaging.reported.snapshot().vmsupportStatus, { code: -7, name: null });
  assert.equal(rpcOne(g, "tools.vmsupport.status two"), "0 Invalid status");
  assert.equal(rpcOne(g, "tools.vmsupport.status 99999999999"), "0 Invalid status");
  assert.deepEqual(vm.messaging.reported.snapshot().vmsupportStatus, { code: -7, name: null });
});

test("namespace-priv-set-keys / -get-values over a channel: binary-safe, the terminating NULs kept", () => {
  const { vm, g } = setup();
  // vmware-namespace-cmd set-key ns -k color -v blue, then get-value, then delete-key (RpcChannel_SendOneRaw).
  const set = enc.encode("namespace-priv-set-keys ns\0" + "1\0" + "0\0" + "color\0" + "blue\0" + "\0");
  assert.equal(new TextDecoder().decode(rpcBytes(g, set)), "1 ");
  assert.deepEqual([...rpcBytes(g, enc.encode("namespace-priv-get-values ns\0color\0"))], [...enc.encode("1 blue\0")]);
  const del = enc.encode("namespace-priv-set-keys ns\0" + "1\0" + "0\0" + "color\0" + "\0" + "\0");
  assert.equal(new TextDecoder().decode(rpcBytes(g, del)), "1 ");
  assert.deepEqual([...rpcBytes(g, enc.encode("namespace-priv-get-values ns\0color\0"))], [...enc.encode("1 \0")]);
  assert.equal(new TextDecoder().decode(rpcBytes(g, enc.encode("namespace-priv-get-values other\0k\0"))), "0 Namespace does not exist");
  assert.equal(new TextDecoder().decode(rpcBytes(g, enc.encode("namespace-priv-set-keys ns\0" + "1\0"))), "0 Malformed request");
  assert.deepEqual(vm.messaging.namespaces.names(), ["ns"]);
});

test("guestlib.stat.get (stat raw): the list, session/host/resources in each encoding; not served off ESX", () => {
  const { g, clock } = setup({
    cpuMhz: 3000,
    uuid: "564d2c53-4356-668e-7c05-fd7e511e23f3",
    guestlib: { memBalloonedMb: 128, memSwappedMb: null },
  });
  clock.advance(2_000_000_000n);
  assert.equal(rpcOne(g, "guestlib.stat.get   "), "1 session\nhost\nresources\n"); // stat raw: three spaces
  assert.equal(rpcOne(g, "guestlib.stat.get text "), "1 session\nhost\nresources\n");
  const session = rpcOne(g, "guestlib.stat.get text session ");
  assert.equal(
    session,
    "1 session = 8936827754555253747\nuptime = 2000000\nversion = VMware ESXi build-24022510\nprovider =\nuuid.bios = 56 4d 2c 53 43 56 66 8e-7c 05 fd 7e 51 1e 23 f3\n",
  );
  const json = JSON.parse(rpcOne(g, "guestlib.stat.get json resources ")!.slice(2)) as {
    session: string;
    metrics: Record<string, { value: number; units: string }>;
  };
  assert.equal(json.session, "8936827754555253747"); // the guestlib session id (UUID bytes 8–15), in decimal
  assert.deepEqual(json.metrics["mem.ballooned"], { type: "instant", units: "MB", value: 128 });
  assert.equal(json.metrics["mem.swapped"], undefined); // null in the profile: not available
  assert.equal(json.metrics["cpu.limit"]?.value, 3000);
  const xml = rpcOne(g, "guestlib.stat.get xml host ")!;
  assert.match(
    xml,
    /^1 <metrics session="8936827754555253747"><metric name="version">VMware ESXi build-24022510<\/metric><metric name="cpu.processorMHz" type="static" units="MHz">3000<\/metric>/,
  );
  assert.match(
    rpcOne(g, "guestlib.stat.get yaml session ")!,
    /^1 session:\n {4}type: static\n {4}units: number\n {4}value: 8936827754555253747\n/,
  );
  assert.equal(rpcOne(g, "guestlib.stat.get text vnet 00:0c:29:1e:23:f3"), "0 No such stat");
  assert.equal(rpcOne(g, "guestlib.stat.get csv session"), "0 Unknown encoding");
  const ws = setup({ vmxType: 4 });
  assert.equal(rpcOne(ws.g, "guestlib.stat.get text session"), "0 Unknown command");
  assert.deepEqual(ws.vm.messaging.rpci.unknownCommands(), { "guestlib.stat.get": 1 });
});

test("containerInfo JSON reaches the model; commands nobody serves are counted per name", () => {
  const { vm, g } = setup();
  const info = '{"version":"1","updateCounter":1,"publishTime":"2026-01-01T00:00:00.000Z","containerinfo":{"moby":[{"i":"debian:12"}]}}';
  assert.equal(rpcOne(g, "info-set guestinfo.vmtools.containerinfo " + info, {}, true), "1 ");
  assert.deepEqual(vm.messaging.reported.snapshot().containerInfo, JSON.parse(info));
  rpcOne(g, "disk.shrink");
  rpcOne(g, "disk.shrink");
  rpcOne(g, "gueststore.getContent /x");
  assert.deepEqual(vm.messaging.rpci.unknownCommands(), { "disk.shrink": 2, "gueststore.getContent": 1 });
});
