/**
 * The message channel driven the way real clients drive it, instruction by instruction through the #GP intercept
 * (`docs/clients.md`): vmware-rpctool over HB and over LB, vmtoolsd's start-up and TCLO loop, Rust vmw_backdoor
 * (OUT, no RECVSTATUS, HB without checking the bit), Linux `vmw_host_printf` (close without reading), Go
 * vmw-guestinfo's 3-byte LB tail — and every status bit and error path.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtualClock } from "../core/clock.js";
import { SeededRandom } from "../core/random.js";
import { VirtualMachine } from "../vm/virtual-machine.js";
import type { VmProfileInput } from "../devices/profile.js";
import { BUF, COOKIE, ClientChannel, Guest, HB, LB, MAGIC, RPCI, TCLO, rpcOne } from "../test-support/backdoor-client.js";
import { CHANNEL_IDLE_TIMEOUT_NS, MAX_MESSAGE_SIZE } from "./constants.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

function setup(profile: VmProfileInput = {}) {
  const clock = new VirtualClock();
  const vm = new VirtualMachine({ profile, clock, random: new SeededRandom(42) });
  const seen: string[] = [];
  vm.messaging.rpci.exchanges.on(({ request: req }) => void seen.push(req.name + (req.args.length ? " " + dec.decode(req.args) : "")));
  return { vm, clock, g: new Guest(vm), seen };
}

test("vmware-rpctool over HB: info-set then info-get, one channel per command, cookies, no NUL", () => {
  const { vm, g, seen } = setup();
  assert.equal(rpcOne(g, "info-set guestinfo.foo bar", { openGarbage: true }), "1 ");
  assert.equal(rpcOne(g, "info-get guestinfo.foo", { openGarbage: true }), "1 bar");
  assert.equal(rpcOne(g, "info-get guestinfo.nonexist"), "0 No value found");
  assert.deepEqual(seen, ["info-set guestinfo.foo bar", "info-get guestinfo.foo", "info-get guestinfo.nonexist"]);
  // The transcript shows HB both ways: rep outsb for the request, rep insb for the reply.
  const kinds = g.transcript.map((t) => t.insn);
  assert.ok(kinds.includes("outsb") && kinds.includes("insb"));
  const open = g.transcript[0]!;
  assert.equal(open.in.ebx, 0xc9435052); // RPCI | COOKIE
  assert.equal(open.out.ecx, 0x00010000); // SUCCESS, ECX low = 0
  assert.equal(open.out.edx & 0xffff, LB); // port kept, garbage EDX high replaced by the id
  assert.notEqual(open.out.esi, 0xdeadbeef); // cookies replaced the garbage
  const sendSize = g.transcript[1]!;
  assert.equal(sendSize.out.ecx >>> 16, 0x81); // SUCCESS | HB
  const outsb = g.transcript[2]!;
  assert.equal(outsb.insn, "outsb");
  assert.equal(outsb.out.ebx, 0x00010000);
  assert.equal(outsb.out.ecx, 0); // hardware: RCX counted down
  assert.equal(outsb.out.esi, BUF + 26); // RSI advanced by the message length
  assert.equal(vm.messaging.channels.channels().length, 0, "rpctool closed every channel");
});

test("vmware-rpctool over LB with highBandwidth off: 4-byte SENDPAYLOAD/RECVPAYLOAD, EDX high 1 then 2", () => {
  const { vm, g } = setup({ highBandwidth: false });
  vm.messaging.guestinfo.set("foo", "bar-with-an-odd-length");
  assert.equal(rpcOne(g, "info-get guestinfo.foo"), "1 bar-with-an-odd-length");
  const kinds = new Set(g.transcript.map((t) => t.insn));
  assert.deepEqual([...kinds], ["in"]);
  const recvSize = g.transcript.find((t) => t.in.ecx === 0x0003001e)!;
  assert.equal(recvSize.out.ecx >>> 16, 0x03); // SUCCESS | DORECV, no HB
  assert.equal(recvSize.out.edx >>> 16, 1);
  assert.equal(recvSize.out.ebx, 24);
  const payload = g.transcript.find((t) => t.in.ecx === 0x0004001e)!;
  assert.equal(payload.out.edx >>> 16, 2);
  assert.equal(payload.out.ebx, 0x61622031); // "1 ba" little-endian
});

test("vmtoolsd start-up: TCLO + RPCI channels, reset → OK ATR toolbox, ping, Capabilities_Register, broadcastIP", async () => {
  const { vm, g, seen } = setup();
  const tclo = new ClientChannel(g);
  const rpci = new ClientChannel(g);
  assert.ok(tclo.open(TCLO));
  assert.ok(rpci.open(RPCI));
  const rpc = (s: string) => {
    assert.ok(rpci.send(enc.encode(s + "\0"))); // RpcChannel_Send appends a NUL
    const r = rpci.receive();
    assert.ok(r instanceof Uint8Array);
    return dec.decode(r);
  };
  assert.equal(rpc("info-set guestinfo.vmtools.versionNumber 12352"), "1 ");
  const ping = vm.messaging.tclo.send("ping");
  const caps = vm.messaging.tclo.send("Capabilities_Register");
  const bip = vm.messaging.tclo.send("Set_Option broadcastIP 1");
  const bogus = vm.messaging.tclo.send("Bogus_Command foo");
  // The guest loop: send the previous result (first one empty), receive one command, act, repeat.
  let result = new Uint8Array(0);
  const handled: string[] = [];
  for (let i = 0; i < 12; i++) {
    assert.ok(tclo.send(result));
    const cmd = tclo.receive();
    if (cmd === false) assert.fail("TCLO receive failed");
    if (cmd === null) {
      result = new Uint8Array(0);
      continue;
    }
    const text = dec.decode(cmd).replace(/\0$/, "");
    handled.push(text);
    let answer = "ERROR Unknown Command";
    if (text === "reset") {
      rpc("vmx.capability.unified_loop toolbox");
      rpc("log toolbox: Version: 12.2.0.41219 (build-21223074)");
      answer = "OK ATR toolbox";
    } else if (text === "ping") answer = "OK ";
    else if (text === "Capabilities_Register") {
      rpc("SetGuestInfo  7 123906");
      rpc("tools.capability.guest_conf_directory /etc/vmware-tools");
      rpc("tools.set.versiontype 12352 4");
      answer = "OK ";
    } else if (text === "Set_Option broadcastIP 1") {
      rpc("info-set guestinfo.ip 192.0.2.2");
      answer = "OK ";
    }
    result = enc.encode(answer);
  }
  assert.deepEqual(handled, ["reset", "ping", "Capabilities_Register", "Set_Option broadcastIP 1", "Bogus_Command foo"]);
  assert.deepEqual(await ping, { ok: true, text: "", raw: "OK " });
  assert.equal((await caps).ok, true);
  assert.equal((await bip).ok, true);
  assert.deepEqual(await bogus, { ok: false, text: "Unknown Command", raw: "ERROR Unknown Command" });
  const s = vm.messaging.reported.snapshot();
  assert.equal(s.toolsRunning, true);
  assert.equal(s.toolsService, "toolbox");
  assert.equal(s.toolsVersion, 12352);
  assert.equal(s.toolsVersionType, 4);
  assert.equal(s.primaryIp, "192.0.2.2");
  assert.equal(s.uptimeSeconds, 1239.06);
  assert.equal(s.guestinfo["guestinfo.ip"], "192.0.2.2");
  assert.equal(s.capabilities["tools.capability.guest_conf_directory"], "/etc/vmware-tools");
  assert.deepEqual(s.log, ["toolbox: Version: 12.2.0.41219 (build-21223074)"]);
  assert.ok(seen.includes("vmx.capability.unified_loop toolbox"));
});

test("TCLO framing on the wire: the command alone by default; profile tcloTrailingNul adds one NUL", () => {
  for (const [profile, want] of [
    [{}, "reset"],
    [{ tcloTrailingNul: true }, "reset\0"],
  ] as const) {
    const { g } = setup(profile);
    const tclo = new ClientChannel(g);
    assert.ok(tclo.open(TCLO));
    assert.ok(tclo.send(new Uint8Array(0))); // the loop's first, empty send
    const cmd = tclo.receive();
    assert.ok(cmd instanceof Uint8Array);
    assert.equal(dec.decode(cmd), want);
  }
});

test("Rust vmw_backdoor: OUT for every call, whole EDX kept, HB without checking the bit, no RECVSTATUS, NUL", () => {
  const { vm, g } = setup({ highBandwidth: false }); // Rust uses HB even when not advertised
  vm.messaging.guestinfo.set("guestinfo.foo", "bar");
  const style = { useOut: true, hb: "always" as const, recvStatus: false };
  assert.equal(rpcOne(g, "info-get guestinfo.foo", style, true), "1 bar");
  assert.equal(rpcOne(g, "log hello-from-rust", style, true), "1 ");
  assert.equal(rpcOne(g, "tools.set.version 2147483647", style, true), "1 ");
  assert.ok(g.transcript.every((t) => t.insn !== "in"));
  assert.ok(
    g.transcript.filter((t) => t.insn === "out").every((t) => t.out.eax === MAGIC),
    "OUT leaves EAX",
  );
  assert.equal(vm.messaging.reported.snapshot().toolsVersion, 2147483647);
  assert.equal(vm.messaging.channels.counters.repliesDropped, 0, "the reply was read fully; CLOSE without RECVSTATUS is fine");
});

test("Linux vmw_host_printf: send 'log …' and close without reading the reply", () => {
  const { vm, g } = setup();
  const ch = new ClientChannel(g);
  assert.ok(ch.open(RPCI));
  assert.ok(ch.send(enc.encode("log vmwgfx: hello")));
  assert.ok(ch.close());
  assert.equal(vm.messaging.channels.counters.repliesDropped, 1);
  assert.deepEqual(vm.messaging.reported.snapshot().log, ["vmwgfx: hello"]);
});

test("Go vmw-guestinfo: on LB its 3-byte tail arrives corrupted (as observed); with HB it is right", () => {
  const lbOnly = setup({ highBandwidth: false });
  lbOnly.vm.messaging.guestinfo.set("abcd", "x");
  assert.equal(rpcOne(lbOnly.g, "info-get guestinfo.abcd", { goTailBug: true }), "0 No value found");
  assert.deepEqual(lbOnly.seen, ["info-get guestinfo.a\0dc"]); // exactly what the real client makes the host see
  const hb = setup();
  hb.vm.messaging.guestinfo.set("abcd", "x");
  assert.equal(rpcOne(hb.g, "info-get guestinfo.abcd", { goTailBug: true }), "1 x");
});

test("bare 'log' (rpctool's dropped space) is accepted with an empty line; argument-less unknown names fail", () => {
  const { vm, g } = setup();
  assert.equal(rpcOne(g, "log"), "1 ");
  assert.deepEqual(vm.messaging.reported.snapshot().log, [""]);
  assert.equal(rpcOne(g, "frobnicate"), "0 Unknown command");
});

test("OPEN: bad protocol or flags fail with ECX = 0; no cookie flag means no cookie check", () => {
  const { g } = setup();
  for (const ebx of [0x12345678, (RPCI | 0x20000000) >>> 0]) {
    const r = g.call("in", { ecx: 0x1e, ebx, edx: LB });
    assert.equal(r.ecx, 0, `OPEN ${ebx.toString(16)}`);
  }
  const r = g.call("in", { ecx: 0x1e, ebx: RPCI, edx: LB, esi: 7, edi: 9 });
  assert.equal(r.ecx, 0x10000);
  assert.equal(r.esi, 7, "without cookies ESI/EDI are not outputs");
  const id = r.edx >>> 16;
  const s = g.call("in", { ecx: 0x1001e, ebx: 0, edx: (id << 16) | LB, esi: 1, edi: 2 });
  assert.equal(s.ecx >>> 16, 0x81, "any cookie values pass on a cookie-less channel");
});

test("a wrong cookie or id fails that step only; the right one still works", () => {
  const { g } = setup();
  const a = new ClientChannel(g);
  const b = new ClientChannel(g);
  assert.ok(a.open(RPCI) && b.open(RPCI));
  const bad = g.call("in", { ecx: 0x1001e, ebx: 4, edx: (a.id << 16) | LB, esi: a.cookieHigh ^ 1, edi: a.cookieLow });
  assert.equal(bad.ecx, 0);
  const wrongId = g.call("in", { ecx: 0x1001e, ebx: 4, edx: (99 << 16) | LB, esi: a.cookieHigh, edi: a.cookieLow });
  assert.equal(wrongId.ecx, 0);
  const stolen = g.call("in", { ecx: 0x1001e, ebx: 4, edx: (b.id << 16) | LB, esi: a.cookieHigh, edi: a.cookieLow });
  assert.equal(stolen.ecx, 0, "a's cookies do not open b");
  assert.ok(a.send(enc.encode("log x")));
  assert.ok(b.send(enc.encode("log y")));
  assert.equal(g.vm.messaging.channels.counters.badCookie, 2);
  assert.equal(g.vm.messaging.channels.counters.badChannel, 1);
});

test("sequence errors: payload without SENDSIZE, RECVPAYLOAD past the reply, RECVSTATUS without one, unknown type", () => {
  const { vm, g } = setup();
  const ch = new ClientChannel(g);
  assert.ok(ch.open(RPCI));
  const step = (type: number, ebx: number) =>
    g.call("in", { ecx: ((type << 16) | 0x1e) >>> 0, ebx, edx: (ch.id << 16) | LB, esi: ch.cookieHigh, edi: ch.cookieLow });
  assert.equal(step(2, 0x41414141).ecx, 0); // SENDPAYLOAD with nothing announced
  assert.equal(step(4, 1).ecx, 0); // RECVPAYLOAD with no reply
  assert.equal(step(5, 1).ecx, 0); // RECVSTATUS with no reply
  assert.equal(step(7, 0).ecx, 0); // unknown type 7
  assert.equal(step(3, 0).ecx, 0x10000, "RECVSIZE with nothing waiting: SUCCESS without DORECV");
  assert.equal(step(1, MAX_MESSAGE_SIZE + 1).ecx, 0, "one byte over 64 KiB");
  assert.equal(step(1, MAX_MESSAGE_SIZE).ecx >>> 16, 0x81, "exactly 64 KiB is fine");
  assert.equal(vm.messaging.channels.counters.oversize, 1);
  assert.equal(vm.messaging.channels.counters.sequenceErrors, 3);
  assert.equal(vm.messaging.channels.counters.unknownType, 1);
});

test("RECVSTATUS with failure offers the reply again; SENDSIZE drops an unread reply", () => {
  const { g } = setup({ highBandwidth: false });
  const ch = new ClientChannel(g, { recvStatus: false });
  assert.ok(ch.open(RPCI));
  assert.ok(ch.send(enc.encode("info-get guestinfo.none")));
  const first = ch.receive();
  assert.ok(first instanceof Uint8Array);
  g.call("in", { ecx: 0x5001e, ebx: 0, edx: (ch.id << 16) | LB, esi: ch.cookieHigh, edi: ch.cookieLow }); // RECVSTATUS(fail)
  const again = ch.receive();
  assert.deepEqual(again, first);
  assert.ok(ch.send(enc.encode("log next"))); // supersedes the unread... already read reply: not counted
  assert.equal(g.vm.messaging.channels.counters.repliesDropped, 0);
  assert.ok(ch.send(enc.encode("log again"))); // this one drops "1 " unread
  assert.equal(g.vm.messaging.channels.counters.repliesDropped, 1);
});

test("HB errors: wrong HB command, bad magic, more bytes than announced, reading with no reply", () => {
  const { vm, g } = setup();
  const ch = new ClientChannel(g);
  assert.ok(ch.open(RPCI));
  const edx = (ch.id << 16) | HB;
  g.call("in", { ecx: 0x1001e, ebx: 3, edx: (ch.id << 16) | LB, esi: ch.cookieHigh, edi: ch.cookieLow }); // SENDSIZE 3
  assert.equal(g.call("outsb", { ebx: 0x10001, ecx: 3, edx, esi: BUF, edi: ch.cookieLow, ebp: ch.cookieHigh }).ebx, 0, "VASSERT");
  assert.equal(g.call("outsb", { ebx: 0x10000, ecx: 4, edx, esi: BUF, edi: ch.cookieLow, ebp: ch.cookieHigh }).ebx, 0, "4 > 3");
  const noMagic = g.call("outsb", { eax: 0, ebx: 0x10000, ecx: 3, edx, esi: BUF, edi: ch.cookieLow, ebp: ch.cookieHigh });
  assert.equal(noMagic.ebx, 0x10000, "not a backdoor call: registers untouched but for the string registers");
  assert.equal(noMagic.ecx, 0);
  assert.equal(g.call("insb", { ebx: 0x10000, ecx: 4, edx, esi: ch.cookieHigh, edi: BUF, ebp: ch.cookieLow }).ebx, 0, "no reply yet");
  g.writeBuf(enc.encode("log"));
  assert.equal(g.call("outsb", { ebx: 0x10000, ecx: 3, edx, esi: BUF, edi: ch.cookieLow, ebp: ch.cookieHigh }).ebx, 0x10000);
  assert.equal(vm.messaging.reported.snapshot().log.length, 1);
  const r = g.call("insb", { ebx: 0x10000, ecx: 2, edx, esi: ch.cookieHigh, edi: BUF, ebp: ch.cookieLow });
  assert.equal(r.ebx, 0x10000);
  assert.equal(dec.decode(g.readBuf(2)), "1 ");
});

test("channel table bound: maxChannels, then idle channels are reclaimed (LRU), busy ones never", () => {
  const { vm, g, clock } = setup({ maxChannels: 4 });
  const chans = Array.from({ length: 4 }, () => new ClientChannel(g));
  for (const c of chans) assert.ok(c.open(RPCI));
  assert.equal(g.call("in", { ecx: 0x1e, ebx: RPCI, edx: LB }).ecx, 0, "table full, nobody idle");
  clock.advance(CHANNEL_IDLE_TIMEOUT_NS);
  assert.ok(chans[2]!.send(enc.encode("log keep-alive"))); // channel 2 is active again
  const fresh = new ClientChannel(g);
  assert.ok(fresh.open(RPCI));
  assert.equal(fresh.id, 0, "the least recently used idle channel was reclaimed");
  assert.equal(vm.messaging.channels.counters.reclaimed, 1);
  assert.ok(chans[2]!.close());
  assert.equal(
    g.call("in", { ecx: 0x2001e, ebx: 0, edx: (chans[0]!.id << 16) | LB, esi: chans[0]!.cookieHigh, edi: chans[0]!.cookieLow }).ecx,
    0,
    "the reclaimed channel's old cookies no longer work",
  );
});

test("cookies come from the random source and differ per channel", () => {
  const { g } = setup();
  const a = new ClientChannel(g);
  const b = new ClientChannel(g);
  assert.ok(a.open(RPCI) && b.open(RPCI));
  assert.notDeepEqual([a.cookieHigh, a.cookieLow], [b.cookieHigh, b.cookieLow]);
  assert.ok(a.cookieHigh !== 0 || a.cookieLow !== 0);
});

test("status bits: HB bit follows the profile in SENDSIZE and RECVSIZE", () => {
  for (const hb of [true, false]) {
    const { vm, g } = setup({ highBandwidth: hb });
    vm.messaging.guestinfo.set("k", "v");
    rpcOne(g, "info-get guestinfo.k");
    const size = g.transcript.find((t) => t.in.ecx === 0x1001e)!;
    const recv = g.transcript.find((t) => t.in.ecx === 0x3001e)!;
    assert.equal((size.out.ecx >>> 16) & 0x80, hb ? 0x80 : 0);
    assert.equal((recv.out.ecx >>> 16) & 0x80, hb ? 0x80 : 0);
    assert.equal((recv.out.ecx >>> 16) & 0x3, 0x3);
  }
  void COOKIE;
});
