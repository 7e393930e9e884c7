/**
 * Messages recovered from trace records: LB sends on RPCI and TCLO channels, and the host's LB replies, come back
 * byte for byte (binary bytes, 1–3-byte tails, empty sends), HB transfers are not recoverable and are skipped,
 * failed steps do not count, and the records survive a JSON round trip as a `--trace` file stores them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtualClock } from "../core/clock.js";
import { SeededRandom } from "../core/random.js";
import { ClientChannel, Guest, RPCI, TCLO } from "../test-support/backdoor-client.js";
import { REAL_NIC_V3 } from "../channels/testdata/nic-reports.js";
import { messagesFromTrace } from "./trace-messages.js";
import type { TraceRecord } from "./trace.js";
import { VirtualMachine } from "./virtual-machine.js";

const enc = new TextEncoder();

function traced(): { vm: VirtualMachine; g: Guest; records: TraceRecord[] } {
  const vm = new VirtualMachine({ clock: new VirtualClock(), random: new SeededRandom(2) });
  const records: TraceRecord[] = [];
  vm.trace.on((a) => records.push(JSON.parse(JSON.stringify(a.toRecord())) as TraceRecord));
  return { vm, g: new Guest(vm), records };
}

test("LB sends come back byte for byte, with their channel and protocol; HB sends are skipped", () => {
  const { g, records } = traced();
  const lb = new ClientChannel(g, { hb: "never" });
  assert.ok(lb.open(RPCI));
  const sent = [REAL_NIC_V3, enc.encode("log x"), new Uint8Array([0x00, 0xff, 0x00]), enc.encode("a"), new Uint8Array(0)];
  for (const m of sent) {
    assert.ok(lb.send(m));
    lb.receive();
  }
  const hb = new ClientChannel(g, { hb: "always" });
  assert.ok(hb.open(RPCI));
  assert.ok(hb.send(enc.encode("info-get guestinfo.hb-only")));
  const tclo = new ClientChannel(g, { hb: "never" });
  assert.ok(tclo.open(TCLO));
  assert.ok(tclo.send(enc.encode("OK ")));
  const got = messagesFromTrace(records).filter((m) => m.from === "guest");
  assert.deepEqual(
    got.map((m) => [m.channel, m.protocol, [...m.bytes]]),
    [...sent.map((m) => [lb.id, "rpci", [...m]]), [tclo.id, "tclo", [...enc.encode("OK ")]]],
  );
  // The host's replies on the LB channel: "1 " for the report and the log, "0 Unknown command" for the rest.
  const replies = messagesFromTrace(records).filter((m) => m.from === "host" && m.channel === lb.id);
  assert.deepEqual(
    replies.map((m) => new TextDecoder().decode(m.bytes)),
    ["1 ", "1 ", "0 Unknown command", "0 Unknown command", "0 Unknown command"],
  );
});

test("a send on a channel that is not open, or with wrong cookies, is not a message", () => {
  const { g, records } = traced();
  const ch = new ClientChannel(g, { hb: "never" });
  assert.ok(ch.open(RPCI));
  const good = ch.cookieLow;
  ch.cookieLow = (good + 1) >>> 0;
  assert.equal(ch.send(enc.encode("log lost")), false);
  ch.cookieLow = good;
  assert.ok(ch.send(enc.encode("log kept")));
  assert.deepEqual(
    messagesFromTrace(records).map((m) => new TextDecoder().decode(m.bytes)),
    ["log kept"],
  );
});
