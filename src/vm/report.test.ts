/**
 * The run report: every part the host learnt is in it (exit, backdoor calls, counters by component, the whole guest
 * model with NICs, routes, DNS and the namespace database, TCLO outcomes, the log, unknown RPCs by name), it is
 * plain JSON, and a report taken mid-run has no exit.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtualClock } from "../core/clock.js";
import { SeededRandom } from "../core/random.js";
import { ClientChannel, Guest, TCLO, rpcOne } from "../test-support/backdoor-client.js";
import { REAL_NIC_V3 } from "../channels/testdata/nic-reports.js";
import { REPORT_SCHEMA, buildReport, signalName, type VmReport } from "./report.js";
import { VirtualMachine } from "./virtual-machine.js";

test("a report holds the model, the namespace DB, TCLO outcomes, the log and unknown RPCs; it is plain JSON", async () => {
  const vm = new VirtualMachine({ clock: new VirtualClock(), random: new SeededRandom(4) });
  const g = new Guest(vm);
  assert.equal(rpcOne(g, "tools.set.versiontype 12352 4", {}, true), "1 ");
  assert.equal(rpcOne(g, "SetGuestInfo  1 simvm", {}, true), "1 ");
  const nic = new ClientChannel(g);
  assert.ok(nic.open(0x49435052));
  assert.ok(nic.send(REAL_NIC_V3));
  nic.receive();
  rpcOne(g, "log hello from the guest");
  rpcOne(g, "namespace-priv-set-keys ns\0" + "1\0" + "0\0" + "k\0" + "v\0" + "\0");
  rpcOne(g, "no.such.command x");
  const done = vm.messaging.tclo.send("ping");
  const t = new ClientChannel(g);
  assert.ok(t.open(TCLO));
  t.send(new Uint8Array(0));
  t.receive(); // reset
  t.send(new TextEncoder().encode("OK ATR toolbox"));
  t.receive(); // ping
  t.send(new TextEncoder().encode("OK "));
  await done;

  const r: VmReport = JSON.parse(
    JSON.stringify(buildReport(vm, { exitStatus: 143, signal: 15, backdoorCalls: 1234, counters: { cpuids: 7 } })),
  );
  assert.equal(r.schema, REPORT_SCHEMA);
  assert.deepEqual(r.exit, { status: 143, signal: 15, signalName: "SIGTERM" });
  assert.equal(r.backdoorCalls, 1234);
  assert.deepEqual(r.counters["tracer"], { cpuids: 7 });
  assert.ok(r.counters["channels"]!["messages"]! > 5);
  assert.equal(r.counters["rpci"]!["unknown"], 1);
  for (const c of ["intercept", "channels", "rpci", "tclo", "guest", "mouse", "backdoor"]) assert.ok(r.counters[c], c);
  assert.equal(r.guest.toolsVersion, 12352);
  assert.equal(r.guest.toolsVersionType, 4);
  assert.equal(r.guest.toolsRunning, true);
  assert.equal(r.guest.hostname, "simvm");
  assert.deepEqual(
    r.guest.nics[0]?.ips.map((a) => [a.address, a.prefixLength]),
    [
      ["192.0.2.2", 24],
      ["fd00::2", 64],
      ["fe80::fc:ff:fe00:1", 64],
    ],
  );
  assert.equal(r.guest.routes.length, 8);
  assert.deepEqual(r.guest.dns?.servers, ["10.255.255.53"]);
  assert.deepEqual(r.guest.namespaces, { ns: { k: "v" } });
  assert.deepEqual(r.tclo, {
    commands: [
      { command: "ping", internal: false, outcome: "ok", text: "" },
      { command: "reset", internal: true, outcome: "ok", text: "ATR toolbox" },
    ],
    dropped: 0,
  });
  assert.deepEqual(r.log, { lines: ["hello from the guest"], dropped: 0 });
  assert.deepEqual(r.unknownRpc, { commands: { "no.such.command": 1 }, other: 0, total: 1 });
  for (const k of [
    "toolsService",
    "toolsBuild",
    "capabilities",
    "osName",
    "osNameFull",
    "osDetailed",
    "disks",
    "uptimeSeconds",
    "appInfo",
    "containerInfo",
    "guestinfo",
    "vmsupportStatus",
    "nicReport",
  ]) {
    assert.ok(k in r.guest, k);
  }
});

test("a report taken mid-run has no exit, and counts the VM's emulated instructions as backdoor calls", () => {
  const vm = new VirtualMachine({ clock: new VirtualClock(), random: new SeededRandom(4) });
  rpcOne(new Guest(vm), "log x");
  const r = buildReport(vm);
  assert.equal(r.exit, null);
  assert.equal(r.backdoorCalls, vm.interceptCounters.emulated);
  assert.ok(r.backdoorCalls > 0);
  assert.equal(r.counters["tracer"], undefined);
});

test("signal names: the standard Linux ones, real-time ones relative to SIGRTMIN, null otherwise", () => {
  assert.deepEqual(
    [signalName(9), signalName(11), signalName(31), signalName(34), signalName(64), signalName(0), signalName(32)],
    ["SIGKILL", "SIGSEGV", "SIGSYS", "SIGRTMIN+0", "SIGRTMIN+30", null, null],
  );
});
