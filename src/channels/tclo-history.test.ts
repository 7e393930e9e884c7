/**
 * The TCLO history through a real queue: commands in order with their outcomes (OK, ERROR, timeout, closed,
 * pending), the automatic reset marked internal, identical commands settled in order, and the bounds.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtualClock } from "../core/clock.js";
import { SeededRandom } from "../core/random.js";
import { VirtualMachine } from "../vm/virtual-machine.js";
import { ClientChannel, Guest, TCLO } from "../test-support/backdoor-client.js";
import { TCLO_HISTORY_MAX, TCLO_HISTORY_MAX_TEXT, TcloHistory } from "./tclo-history.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

test("a guest answering on its TCLO channel: reset (internal), OK, ERROR, then a command left pending", async () => {
  const clock = new VirtualClock();
  const vm = new VirtualMachine({ clock, random: new SeededRandom(5) });
  const g = new Guest(vm);
  const tclo = new ClientChannel(g);
  const results = [vm.messaging.tclo.send("ping"), vm.messaging.tclo.send("Bogus_Command"), vm.messaging.tclo.send("ping")];
  assert.ok(tclo.open(TCLO));
  const answer = (reply: string): string => {
    assert.ok(tclo.send(enc.encode(reply)));
    const cmd = tclo.receive();
    return cmd instanceof Uint8Array ? dec.decode(cmd) : "";
  };
  assert.equal(answer(""), "reset");
  assert.equal(answer("OK ATR toolbox"), "ping");
  assert.equal(answer("OK "), "Bogus_Command");
  assert.equal(answer("ERROR Unknown Command"), "ping"); // the second ping is now in flight
  await Promise.all(results.slice(0, 2));
  assert.deepEqual(vm.messaging.tcloHistory.entries(), [
    { command: "ping", internal: false, outcome: "ok", text: "" },
    { command: "Bogus_Command", internal: false, outcome: "error", text: "Unknown Command" },
    { command: "ping", internal: false, outcome: "pending", text: null },
    { command: "reset", internal: true, outcome: "ok", text: "ATR toolbox" },
  ]);
  // The guest closes with the second ping in flight.
  assert.ok(tclo.close());
  await assert.rejects(results[2]!);
  assert.deepEqual(vm.messaging.tcloHistory.entries()[2], {
    command: "ping",
    internal: false,
    outcome: "closed",
    text: 'TCLO "ping": the guest closed its channel before answering',
  });
});

test("a command nobody polls for times out on the VM clock and is recorded as such", async () => {
  const clock = new VirtualClock();
  const vm = new VirtualMachine({ clock, random: new SeededRandom(5) });
  const p = vm.messaging.tclo.send("Capabilities_Register", { timeoutMs: 1000 });
  clock.advance(2_000_000_000n);
  vm.runTimers();
  await assert.rejects(p);
  assert.deepEqual(
    vm.messaging.tcloHistory.entries().map((e) => [e.command, e.outcome]),
    [["Capabilities_Register", "timeout"]],
  );
});

test("bounds: TCLO_HISTORY_MAX entries kept (oldest dropped, counted), texts cut to TCLO_HISTORY_MAX_TEXT", () => {
  const h = new TcloHistory();
  for (let i = 0; i < TCLO_HISTORY_MAX + 3; i++) h.listener({ type: "queued", id: i + 1, command: `cmd${i}`, internal: false });
  assert.equal(h.entries().length, TCLO_HISTORY_MAX);
  assert.equal(h.dropped, 3);
  assert.equal(h.entries()[0]!.command, "cmd3");
  h.listener({ type: "result", id: 1, command: "cmd0", internal: false, result: { ok: true, text: "late", raw: "OK late" } }); // dropped already: ignored
  assert.ok(h.entries().every((e) => e.outcome === "pending"));
  const long = "x".repeat(TCLO_HISTORY_MAX_TEXT + 10);
  const id = TCLO_HISTORY_MAX + 4;
  h.listener({ type: "queued", id, command: long, internal: false });
  h.listener({ type: "result", id, command: long, internal: false, result: { ok: true, text: long, raw: "OK " + long } });
  const last = h.entries().at(-1)!;
  assert.equal(last.command.length, TCLO_HISTORY_MAX_TEXT);
  assert.equal(last.text?.length, TCLO_HISTORY_MAX_TEXT);
  assert.equal(last.outcome, "ok");
});
