/**
 * One event scheme over the whole VM: every component announces through listener sets, several listeners at once
 * (here: a "report" and a "console" both listening), and `vm.counters()` gathers one counters record per component.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtualClock } from "../core/clock.js";
import { SeededRandom } from "../core/random.js";
import { Guest, rpcOne } from "../test-support/backdoor-client.js";
import { VirtualMachine } from "./virtual-machine.js";
import type { GuestStateChange } from "../channels/reported-state.js";

test("guestinfo, guest model, RPCI, namespace and TCLO events reach two independent listeners each", async () => {
  const vm = new VirtualMachine({ clock: new VirtualClock(), random: new SeededRandom(9) });
  const m = vm.messaging;
  const a: GuestStateChange[] = [];
  const b: GuestStateChange[] = [];
  m.reported.on((c) => a.push(c));
  m.reported.changes.on((c) => b.push(c));
  const rpcs: string[] = [];
  m.rpci.exchanges.on(({ request, reply }) => rpcs.push(`${request.name} ${reply.ok ? 1 : 0}`));
  const keys: string[] = [];
  m.guestinfo.changes.on((c) => keys.push(`${c.by} ${c.key}`));
  const g = new Guest(vm);
  rpcOne(g, "info-set guestinfo.x hello");
  rpcOne(g, "log agent up");
  m.guestinfo.set("y", "from host");
  m.guestinfo.delete("x");
  const want = [
    { field: "guestinfo", key: "guestinfo.x", value: "hello" },
    { field: "log", value: "agent up" },
    { field: "guestinfo", key: "guestinfo.y", value: "from host" },
    { field: "guestinfo", key: "guestinfo.x", value: null },
  ];
  assert.deepEqual(a, want);
  assert.deepEqual(b, want);
  assert.deepEqual(rpcs, ["info-set 1", "log 1"]);
  assert.deepEqual(keys, ["guest guestinfo.x", "host guestinfo.y", "host guestinfo.x"]);
});

test("vmmouse packets and guest clipboard selections are listener sets; vm.counters() has one record per component", () => {
  const vm = new VirtualMachine({ clock: new VirtualClock(), random: new SeededRandom(9) });
  const packets: string[] = [];
  vm.mouse.packets.on((p) => packets.push(`${p.x},${p.y} ${p.coalesced ? "merged" : "new"}`));
  assert.equal(vm.mouse.event(1, 2), false, "ignored while the guest has not enabled the device");
  vm.mouse.enabled = true;
  assert.equal(vm.mouse.event(10, 20), true);
  assert.equal(vm.mouse.event(30, 40), true);
  assert.deepEqual(packets, ["10,20 new", "30,40 merged"]);
  const c = vm.counters();
  assert.deepEqual(Object.keys(c).sort(), [
    "backdoor",
    "channels",
    "clipboard",
    "events",
    "guest",
    "hb",
    "intercept",
    "mouse",
    "rpci",
    "tclo",
  ]);
  assert.equal(c["mouse"]!["ignored"], 1);
  assert.equal(c["mouse"]!["coalesced"], 1);
  c["mouse"]!["ignored"] = 99;
  assert.equal(vm.counters()["mouse"]!["ignored"], 1, "a copy");
  assert.equal(new VirtualMachine({ profile: { backdoor: false } }).counters()["backdoor"], undefined);
});
