/**
 * The TCLO queue: one command per poll, the next only after the guest's result, result parsing, timeouts on
 * the VM clock, close with a command in flight, the queue bound, the `reset` put first on open, the wire form
 * of commands (the text alone by default, one trailing NUL with `trailingNul`) and the standard command texts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtualClock } from "../core/clock.js";
import { isVmportError } from "../core/errors.js";
import { MAX_REPLY_SIZE } from "./constants.js";
import { Channel } from "./message-channel.js";
import { TCLO_DEFAULT_TIMEOUT_MS, TCLO_MAX_QUEUED, TcloCommands, TcloQueue, parseTcloResult, type TcloResult } from "./tclo.js";

const MS = 1_000_000n;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
/** The bytes a poll hands over, as text (NUL shown as \0), or null. */
const wire = (b: Uint8Array | null): string | null => (b === null ? null : new TextDecoder().decode(b));
const tcloChannel = (id = 1): Channel => new Channel(id, "tclo", false, 0, 0, 0n);

/** How a promise has settled so far: "pending", the result, or the error code. */
function track(p: Promise<TcloResult>): { state: "pending" | "resolved" | "rejected"; value?: TcloResult; code?: string } {
  const t: { state: "pending" | "resolved" | "rejected"; value?: TcloResult; code?: string } = { state: "pending" };
  p.then(
    (v) => Object.assign(t, { state: "resolved", value: v }),
    (e: unknown) => Object.assign(t, { state: "rejected", code: isVmportError(e) ? e.code : String(e) }),
  );
  return t;
}
/** Let promise callbacks run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

test("commands go out one per poll, as the text alone (no NUL), and the next only after the result arrives", async () => {
  const q = new TcloQueue(new VirtualClock(), { resetOnOpen: false });
  const ch = tcloChannel();
  const ping = track(q.send(TcloCommands.ping));
  const caps = track(q.send(TcloCommands.capabilitiesRegister));
  assert.equal(q.queued, 2);
  assert.equal(q.awaiting, null);

  assert.deepEqual([...q.pollHostMessage(ch)!], [0x70, 0x69, 0x6e, 0x67]); // "ping", 4 bytes, no NUL
  assert.equal(q.awaiting, "ping");
  assert.equal(q.queued, 1);
  assert.equal(q.pollHostMessage(ch), null); // result of "ping" not in yet
  assert.equal(q.onGuestMessage(ch, enc("OK \0")), null);
  await settle();
  assert.deepEqual(ping.value, { ok: true, text: "", raw: "OK " });
  assert.equal(caps.state, "pending");

  assert.equal(wire(q.pollHostMessage(ch)), "Capabilities_Register");
  q.onGuestMessage(ch, enc("OK \0"));
  await settle();
  assert.equal(caps.state, "resolved");
  assert.equal(q.pollHostMessage(ch), null); // nothing left
  assert.equal(q.awaiting, null);
});

test("results are parsed: OK / ERROR / ERR prefixes, one trailing NUL stripped", () => {
  assert.deepEqual(parseTcloResult(enc("OK ATR toolbox\0")), { ok: true, text: "ATR toolbox", raw: "OK ATR toolbox" });
  assert.deepEqual(parseTcloResult(enc("ERROR Unknown Command")), { ok: false, text: "Unknown Command", raw: "ERROR Unknown Command" });
  assert.deepEqual(parseTcloResult(enc("ERR x\0")), { ok: false, text: "x", raw: "ERR x" });
  assert.deepEqual(parseTcloResult(enc("OK")), { ok: true, text: "", raw: "OK" });
  assert.deepEqual(parseTcloResult(enc("OK x\0\0")), { ok: true, text: "x\0", raw: "OK x\0" });
  assert.deepEqual(parseTcloResult(enc("OKAY")), { ok: false, text: "OKAY", raw: "OKAY" });
  assert.deepEqual(parseTcloResult(enc("")), { ok: false, text: "", raw: "" });
});

test("a send resolves with the parsed result of the guest's next message on that channel", async () => {
  const q = new TcloQueue(new VirtualClock(), { resetOnOpen: false });
  const ch = tcloChannel();
  const p = q.send("Set_Option broadcastIP 1");
  q.pollHostMessage(ch);
  q.onGuestMessage(ch, enc("ERROR Unknown Command\0"));
  assert.deepEqual(await p, { ok: false, text: "Unknown Command", raw: "ERROR Unknown Command" });
});

test("idle polls are not results; a message on another channel is a stray, not the awaited result", async () => {
  const q = new TcloQueue(new VirtualClock(), { resetOnOpen: false });
  const ch = tcloChannel(1);
  const other = tcloChannel(2);
  q.onGuestMessage(ch, new Uint8Array(0)); // first send of the loop: empty
  q.onGuestMessage(ch, new Uint8Array([0x00])); // an idle poll with its NUL
  assert.equal(q.counters.strayResults, 0);
  q.onGuestMessage(ch, enc("OK late\0"));
  assert.equal(q.counters.strayResults, 1);

  const t = track(q.send("ping"));
  q.pollHostMessage(ch);
  q.onGuestMessage(other, enc("OK \0"));
  await settle();
  assert.equal(t.state, "pending");
  assert.equal(q.counters.strayResults, 2);
  assert.equal(q.pollHostMessage(other), null); // still awaiting ch's result
  q.onGuestMessage(ch, enc("OK \0"));
  await settle();
  assert.equal(t.state, "resolved");
});

test("a command in flight times out on the VM clock with VMPORT_TCLO_TIMEOUT; the next one goes out", async () => {
  const clock = new VirtualClock();
  const q = new TcloQueue(clock, { resetOnOpen: false });
  const ch = tcloChannel();
  const slow = track(q.send("ping", { timeoutMs: 1000 }));
  const next = track(q.send("Capabilities_Register", { timeoutMs: 5000 }));
  q.pollHostMessage(ch);
  clock.advance(999n * MS);
  q.expire();
  await settle();
  assert.equal(slow.state, "pending");
  clock.advance(1n * MS);
  q.expire();
  await settle();
  assert.equal(slow.code, "VMPORT_TCLO_TIMEOUT");
  assert.equal(q.counters.timeouts, 1);
  assert.equal(q.awaiting, null);
  assert.equal(next.state, "pending");
  assert.equal(wire(q.pollHostMessage(ch)), "Capabilities_Register");
  // The late answer to "ping" is now taken as the result of the command in flight.
  q.onGuestMessage(ch, enc("OK \0"));
  await settle();
  assert.equal(next.state, "resolved");
});

test("a command the guest never polls for times out too, counted from when it was queued", async () => {
  const clock = new VirtualClock();
  const q = new TcloQueue(clock, { resetOnOpen: false, timeoutMs: 2000 });
  const a = track(q.send("a"));
  clock.advance(1000n * MS);
  const b = track(q.send("b"));
  clock.advance(1000n * MS);
  q.expire();
  await settle();
  assert.equal(a.code, "VMPORT_TCLO_TIMEOUT");
  assert.equal(b.state, "pending");
  assert.equal(q.queued, 1);
  clock.advance(1000n * MS);
  assert.equal(q.pollHostMessage(tcloChannel()), null); // a poll expires first: nothing left to hand over
  await settle();
  assert.equal(b.code, "VMPORT_TCLO_TIMEOUT");
  assert.equal(q.counters.timeouts, 2);
});

test("the default timeout is TCLO_DEFAULT_TIMEOUT_MS of VM time", async () => {
  const clock = new VirtualClock();
  const q = new TcloQueue(clock, { resetOnOpen: false });
  const t = track(q.send("ping"));
  clock.advance(BigInt(TCLO_DEFAULT_TIMEOUT_MS) * MS - 1n);
  q.expire();
  await settle();
  assert.equal(t.state, "pending");
  clock.advance(1n);
  q.expire();
  await settle();
  assert.equal(t.code, "VMPORT_TCLO_TIMEOUT");
});

test("closing the channel with a command in flight rejects it with VMPORT_TCLO_CLOSED; queued ones wait", async () => {
  const q = new TcloQueue(new VirtualClock(), { resetOnOpen: false });
  const ch = tcloChannel(1);
  const inFlight = track(q.send("ping"));
  const waiting = track(q.send("Capabilities_Register"));
  q.pollHostMessage(ch);
  q.onClose(tcloChannel(2)); // another channel: no effect
  await settle();
  assert.equal(inFlight.state, "pending");
  q.onClose(ch);
  await settle();
  assert.equal(inFlight.code, "VMPORT_TCLO_CLOSED");
  assert.equal(waiting.state, "pending");
  assert.equal(q.counters.timeouts, 0);
  const reopened = tcloChannel(3);
  assert.equal(wire(q.pollHostMessage(reopened)), "Capabilities_Register");
});

test("TCLO_MAX_QUEUED commands may wait; one more throws VMPORT_TCLO_QUEUE_FULL at once", () => {
  const q = new TcloQueue(new VirtualClock(), { resetOnOpen: false });
  for (let i = 0; i < TCLO_MAX_QUEUED; i++) void q.send(`c${i}`);
  assert.equal(q.queued, TCLO_MAX_QUEUED);
  assert.throws(
    () => q.send("one-more"),
    (e: unknown) => isVmportError(e) && e.code === "VMPORT_TCLO_QUEUE_FULL",
  );
  q.pollHostMessage(tcloChannel()); // the in-flight command no longer counts as waiting
  void q.send("one-more");
  assert.equal(q.queued, TCLO_MAX_QUEUED);
});

test("a command longer than a host → guest message (counting the NUL when there is one) throws VMPORT_BAD_ARGUMENT", () => {
  const tooLong = (e: unknown): boolean => isVmportError(e) && e.code === "VMPORT_BAD_ARGUMENT";
  const q = new TcloQueue(new VirtualClock(), { resetOnOpen: false });
  void q.send("x".repeat(MAX_REPLY_SIZE));
  assert.throws(() => q.send("x".repeat(MAX_REPLY_SIZE + 1)), tooLong);
  assert.equal(q.queued, 1);
  const nul = new TcloQueue(new VirtualClock(), { resetOnOpen: false, trailingNul: true });
  void nul.send("x".repeat(MAX_REPLY_SIZE - 1));
  assert.throws(() => nul.send("x".repeat(MAX_REPLY_SIZE)), tooLong);
  assert.equal(nul.queued, 1);
});

test("trailingNul (QEMU-patch framing): every command, the automatic reset too, ends in one NUL", async () => {
  const q = new TcloQueue(new VirtualClock(), { resetOnOpen: true, trailingNul: true });
  const ch = tcloChannel();
  const bip = track(q.send(TcloCommands.setOption("broadcastIP", true)));
  q.onOpen();
  assert.deepEqual([...q.pollHostMessage(ch)!], [0x72, 0x65, 0x73, 0x65, 0x74, 0x00]); // "reset\0"
  q.onGuestMessage(ch, enc("OK ATR toolbox"));
  assert.equal(wire(q.pollHostMessage(ch)), "Set_Option broadcastIP 1\0");
  q.onGuestMessage(ch, enc("OK "));
  await settle();
  assert.deepEqual(bip.value, { ok: true, text: "", raw: "OK " });
});

test("resetOnOpen: one internal reset goes first, even if opened twice; its result reaches event listeners", async () => {
  const q = new TcloQueue(new VirtualClock(), { resetOnOpen: true });
  const ch = tcloChannel();
  const results: [string, TcloResult, boolean][] = [];
  q.events.on((e) => {
    if (e.type === "result") results.push([e.command, e.result, e.internal]);
  });
  const ping = track(q.send("ping"));
  q.onOpen();
  q.onOpen();
  assert.equal(q.queued, 2);
  assert.equal(wire(q.pollHostMessage(ch)), "reset");
  q.onGuestMessage(ch, enc("OK ATR toolbox\0"));
  assert.equal(wire(q.pollHostMessage(ch)), "ping");
  q.onGuestMessage(ch, enc("OK \0"));
  await settle();
  assert.equal(ping.state, "resolved");
  assert.deepEqual(results, [
    ["reset", { ok: true, text: "ATR toolbox", raw: "OK ATR toolbox" }, true],
    ["ping", { ok: true, text: "", raw: "OK " }, false],
  ]);
  // A new OPEN after the reset was handed over queues a new one.
  q.onOpen();
  assert.equal(wire(q.pollHostMessage(ch)), "reset");
});

test("resetOnOpen: an internal reset that times out or is cut by a close rejects nothing", async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);
  process.on("unhandledRejection", onUnhandled);
  try {
    const clock = new VirtualClock();
    const q = new TcloQueue(clock, { resetOnOpen: true, timeoutMs: 100 });
    const ch = tcloChannel();
    q.onOpen();
    assert.equal(wire(q.pollHostMessage(ch)), "reset");
    clock.advance(100n * MS);
    q.expire();
    assert.equal(q.counters.timeouts, 1);
    q.onOpen();
    q.pollHostMessage(ch);
    q.onClose(ch);
    assert.equal(q.awaiting, null);
    await settle();
    await settle();
    assert.deepEqual(unhandled, []);
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
});

test("without resetOnOpen an open queues nothing", () => {
  const q = new TcloQueue(new VirtualClock(), { resetOnOpen: false });
  q.onOpen();
  assert.equal(q.queued, 0);
  assert.equal(q.pollHostMessage(tcloChannel()), null);
});

test("TcloCommands: standard texts and Set_Option with booleans as 1/0", () => {
  assert.equal(TcloCommands.setOption("broadcastIP", true), "Set_Option broadcastIP 1");
  assert.equal(TcloCommands.setOption("synctime", false), "Set_Option synctime 0");
  assert.equal(TcloCommands.setOption("synctime.period", 60), "Set_Option synctime.period 60");
  assert.equal(TcloCommands.setOption("toolScripts.afterPowerOn", "1"), "Set_Option toolScripts.afterPowerOn 1");
  assert.deepEqual([TcloCommands.reset, TcloCommands.ping, TcloCommands.capabilitiesRegister], ["reset", "ping", "Capabilities_Register"]);
});

test("a TCLO OPEN with the host queue full still succeeds: the automatic reset is skipped and counted", () => {
  const clock = new VirtualClock();
  const q = new TcloQueue(clock, { resetOnOpen: true });
  for (let i = 0; i < TCLO_MAX_QUEUED; i++) q.send(`cmd${i}`).catch(() => {});
  assert.doesNotThrow(() => q.onOpen());
  assert.equal(q.counters.resetsSkipped, 1);
  assert.equal(q.queued, TCLO_MAX_QUEUED);
});

test("events are emitted synchronously, with ids in queue order: enqueue() works with no promise and no event loop", () => {
  const clock = new VirtualClock();
  const q = new TcloQueue(clock, { resetOnOpen: true });
  const ch = tcloChannel();
  const seen: string[] = [];
  q.events.on((e) =>
    seen.push(
      `${e.type} ${e.id} ${e.command}${e.internal ? " (internal)" : ""}${e.type === "result" ? ` ${e.result.text}` : e.type === "failed" ? ` ${e.code}` : ""}`,
    ),
  );
  const ping = q.enqueue("ping");
  const slow = q.enqueue("Capabilities_Register", { timeoutMs: 10 });
  q.onOpen();
  assert.equal(wire(q.pollHostMessage(ch)), "reset");
  q.onGuestMessage(ch, enc("OK ATR toolbox"));
  assert.equal(wire(q.pollHostMessage(ch)), "ping");
  q.onGuestMessage(ch, enc("OK "));
  // No await: every result above is already known.
  assert.deepEqual(seen, [
    "queued 1 ping",
    "queued 2 Capabilities_Register",
    "queued 3 reset (internal)",
    "result 3 reset (internal) ATR toolbox",
    "result 1 ping ",
  ]);
  clock.advance(11n * MS);
  q.expire();
  assert.equal(seen.at(-1), `failed ${slow} Capabilities_Register VMPORT_TCLO_TIMEOUT`);
  assert.equal(ping, 1);
  assert.deepEqual(q.counters, { queued: 3, results: 2, timeouts: 1, closed: 0, strayResults: 0, resetsSkipped: 0 });
});
