/**
 * The RPCI dispatcher: one trailing NUL stripped, the name/args split (bare names, binary args), exact and
 * prefix registrations and their precedence, duplicate registrations, the exact unknown-command reply, reply
 * encoding, counters and the exchange events.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { isVmportError } from "../core/errors.js";
import { Channel } from "./message-channel.js";
import {
  RPCI_MAX_NAME,
  RPCI_MAX_UNKNOWN_NAMES,
  RPCI_UNNAMED,
  RpciDispatcher,
  encodeReply,
  reply,
  type RpciRequest,
} from "./rpci-dispatcher.js";

const ch = new Channel(0, "rpci", false, 0, 0, 0n);
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** A dispatcher whose handlers record what they saw. */
function recording(...names: string[]): { d: RpciDispatcher; seen: { handler: string; name: string; args: number[]; argsText: string }[] } {
  const d = new RpciDispatcher();
  const seen: { handler: string; name: string; args: number[]; argsText: string }[] = [];
  for (const n of names) {
    d.register(n, (req: RpciRequest) => {
      seen.push({ handler: n, name: req.name, args: [...req.args], argsText: req.argsText });
      return reply.ok(n);
    });
  }
  return { d, seen };
}

test('bare "log" (3 bytes, no space, no NUL) reaches the handler with empty args', () => {
  const { d, seen } = recording("log");
  assert.equal(dec(d.dispatch(enc("log"), ch)), "1 log");
  assert.deepEqual(seen, [{ handler: "log", name: "log", args: [], argsText: "" }]);
});

test("exactly one trailing NUL is stripped, before the split", () => {
  const { d, seen } = recording("log");
  d.dispatch(enc("log\0"), ch);
  d.dispatch(enc("log hello\0"), ch);
  d.dispatch(enc("log hello\0\0"), ch);
  d.dispatch(enc("log \0"), ch);
  assert.deepEqual(
    seen.map((s) => s.args),
    [[], [...enc("hello")], [...enc("hello"), 0x00], []],
  );
});

test("a binary command keeps every byte after the space, trailing NULs included (XDR ends in 00 00 00 00)", () => {
  const d = new RpciDispatcher();
  const seen: number[][] = [];
  d.register(
    "SetGuestInfo",
    (req) => {
      seen.push([...req.args]);
      return reply.ok();
    },
    { binary: true },
  );
  d.register("log", (req) => {
    seen.push([...req.args]);
    return reply.ok();
  });
  // "SetGuestInfo  10 " then the last 8 bytes of an XDR NIC report: two absent optionals (0, 0).
  const xdr = [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
  d.dispatch(new Uint8Array([...enc("SetGuestInfo  10 "), ...xdr]), ch);
  d.dispatch(enc("SetGuestInfo\0"), ch); // a bare name followed by its terminator: no arguments
  d.dispatch(enc("SetGuestInfo \0"), ch); // one argument byte, the NUL
  d.dispatch(enc("log hello\0"), ch); // a text command still loses its terminator
  assert.deepEqual(seen, [[...enc(" 10 "), ...xdr], [], [0x00], [...enc("hello")]]);
});

test("args are everything after the first space, binary bytes preserved", () => {
  const { d, seen } = recording("info-set");
  const msg = new Uint8Array([...enc("info-set guestinfo.bin "), 0x00, 0xff, 0x20, 0x80, 0x0a, 0x00, 0x01, 0x00]);
  d.dispatch(msg, ch);
  assert.equal(seen[0]!.name, "info-set");
  assert.deepEqual(seen[0]!.args, [...enc("guestinfo.bin "), 0x00, 0xff, 0x20, 0x80, 0x0a, 0x00, 0x01]);
  d.dispatch(enc("info-set  two spaces"), ch);
  assert.equal(seen[1]!.argsText, " two spaces");
});

test('an unknown command gets exactly "0 Unknown command" and is counted', () => {
  const { d, seen } = recording("log");
  for (const m of ["nope", "nope args", "Log", "logx", "", "\0", " log", "log2 x"]) {
    assert.deepEqual([...d.dispatch(enc(m), ch)], [...enc("0 Unknown command")], JSON.stringify(m));
  }
  assert.equal(seen.length, 0);
  assert.deepEqual(d.counters, { requests: 8, unknown: 8 });
  d.dispatch(enc("log x"), ch);
  assert.deepEqual(d.counters, { requests: 9, unknown: 8 });
  assert.deepEqual(d.unknownCommands(), { nope: 2, Log: 1, logx: 1, [RPCI_UNNAMED]: 3, log2: 1 });
});

test("unknown names are counted one by one up to RPCI_MAX_UNKNOWN_NAMES, the rest together", () => {
  const d = new RpciDispatcher();
  for (let i = 0; i < RPCI_MAX_UNKNOWN_NAMES + 5; i++) d.dispatch(enc(`cmd${i} x`), ch);
  d.dispatch(enc("cmd0"), ch); // a name already counted still counts after the table is full
  const u = d.unknownCommands();
  assert.equal(Object.keys(u).length, RPCI_MAX_UNKNOWN_NAMES);
  assert.equal(u["cmd0"], 2);
  assert.equal(d.unknownOther, 5);
  assert.equal(d.counters.unknown, RPCI_MAX_UNKNOWN_NAMES + 6);
});

test("a handler answering reply.unknown() is counted like an unregistered name", () => {
  const d = new RpciDispatcher();
  d.register("esx.only", () => reply.unknown());
  assert.equal(dec(d.dispatch(enc("esx.only 1"), ch)), "0 Unknown command");
  assert.deepEqual(d.unknownCommands(), { "esx.only": 1 });
});

test("a prefix registration (name ending in *) takes every name that starts with it, name passed whole", () => {
  const { d, seen } = recording("tools.capability.*");
  assert.equal(dec(d.dispatch(enc("tools.capability.resolution_set 1\0"), ch)), "1 tools.capability.*");
  assert.equal(dec(d.dispatch(enc("tools.capability.hgfs_server toolbox 1"), ch)), "1 tools.capability.*");
  assert.equal(dec(d.dispatch(enc("tools.capabilityX 1"), ch)), "0 Unknown command");
  assert.deepEqual(
    seen.map((s) => [s.name, s.argsText]),
    [
      ["tools.capability.resolution_set", "1"],
      ["tools.capability.hgfs_server", "toolbox 1"],
    ],
  );
});

test("an exact name beats a prefix; a longer prefix beats a shorter one, whatever the order registered", () => {
  const { d } = recording("tools.*", "tools.capability.*", "tools.capability.unified_loop");
  const handler = (m: string): string => dec(d.dispatch(enc(m), ch));
  assert.equal(handler("tools.capability.unified_loop toolbox"), "1 tools.capability.unified_loop");
  assert.equal(handler("tools.capability.display_topology_set 1"), "1 tools.capability.*");
  assert.equal(handler("tools.set.version 12352"), "1 tools.*");
  const { d: d2 } = recording("tools.capability.*", "tools.*");
  assert.equal(dec(d2.dispatch(enc("tools.capability.x"), ch)), "1 tools.capability.*");
});

test("registering a name or a prefix twice throws VMPORT_BAD_REGISTRATION and keeps the first handler", () => {
  const { d } = recording("log", "tools.capability.*");
  const isBad = (e: unknown): boolean => isVmportError(e) && e.code === "VMPORT_BAD_REGISTRATION";
  assert.throws(() => d.register("log", () => reply.ok("second")), isBad);
  assert.throws(() => d.register("tools.capability.*", () => reply.ok("second")), isBad);
  assert.equal(dec(d.dispatch(enc("log"), ch)), "1 log");
  // The same text as an exact name and as a prefix are two registrations.
  d.register("tools.capability.", () => reply.ok("exact"));
  assert.equal(dec(d.dispatch(enc("tools.capability."), ch)), "1 exact");
});

test("names up to RPCI_MAX_NAME bytes are looked up; a longer first word is unknown", () => {
  const ok = "n".repeat(RPCI_MAX_NAME);
  const long = "n".repeat(RPCI_MAX_NAME + 1);
  const { d } = recording(ok, long, "n*");
  assert.equal(dec(d.dispatch(enc(`${ok} a`), ch)), `1 ${ok}`);
  assert.equal(dec(d.dispatch(enc(`${long} a`), ch)), "0 Unknown command");
  assert.equal(dec(d.dispatch(enc(long), ch)), "0 Unknown command");
});

test('replies: "1 " or "0 " then the text; binary reply bytes kept as they are', () => {
  const d = new RpciDispatcher();
  d.register("ok", () => reply.ok());
  d.register("fail", () => reply.fail("No value found"));
  d.register("bin", () => reply.ok(new Uint8Array([0x00, 0xff, 0x31])));
  d.register("utf", () => reply.ok("é"));
  assert.deepEqual([...d.dispatch(enc("ok"), ch)], [0x31, 0x20]); // "1 "
  assert.equal(dec(d.dispatch(enc("fail x"), ch)), "0 No value found");
  assert.deepEqual([...d.dispatch(enc("bin"), ch)], [0x31, 0x20, 0x00, 0xff, 0x31]); // "1 ", then the bytes
  assert.deepEqual([...d.dispatch(enc("utf"), ch)], [0x31, 0x20, 0xc3, 0xa9]); // "1 ", "é" in UTF-8
  assert.deepEqual([...encodeReply({ ok: false, text: "" })], [0x30, 0x20]); // "0 "
});

test("exchange listeners see each request (with its channel) and reply; onGuestMessage dispatches; nothing is polled", () => {
  const d = new RpciDispatcher();
  d.register("ping", () => reply.ok("pong"));
  const seen: [string, string, boolean, string, Channel][] = [];
  d.exchanges.on(({ request: req, reply: r }) =>
    seen.push([req.name, req.argsText, r.ok, typeof r.text === "string" ? r.text : "?", req.channel]),
  );
  const other = new Channel(5, "rpci", true, 1, 2, 0n);
  assert.equal(dec(d.onGuestMessage(other, enc("ping 1\0"))), "1 pong");
  d.dispatch(enc("zap"), ch);
  assert.deepEqual(seen, [
    ["ping", "1", true, "pong", other],
    ["zap", "", false, "Unknown command", ch],
  ]);
  assert.equal(d.pollHostMessage(), null);
});
