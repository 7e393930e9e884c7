/**
 * The guest-state model: change events only on change, snapshots as deep copies, the log ring and line cut,
 * the bound on named entries (capabilities, vmx options) with dropped entries counted, and guestinfo in the
 * snapshot.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  GUEST_LOG_MAX_LINE,
  GUEST_LOG_MAX_LINES,
  GUEST_MAX_NAMED_ENTRIES,
  ReportedState,
  type GuestStateChange,
} from "./reported-state.js";
import { GuestinfoStore } from "./guestinfo-store.js";
import type { GuestNic } from "./reported-state.js";

/** A NIC with one address and nothing else reported. */
function nic(address: string, prefixLength: number): GuestNic {
  return {
    mac: "00:50:56:aa:bb:cc",
    ips: [{ address, prefixLength, origin: null, status: null }],
    dns: null,
    wins: null,
    dhcpv4: null,
    dhcpv6: null,
  };
}

/** A model over a fresh store, with every event recorded. */
function recorded(): { g: ReportedState; store: GuestinfoStore; events: GuestStateChange[] } {
  const store = new GuestinfoStore();
  const g = new ReportedState(store);
  const events: GuestStateChange[] = [];
  g.on((c) => events.push(c));
  return { g, store, events };
}

test("a fresh model knows nothing", () => {
  const { g } = recorded();
  assert.deepEqual(g.snapshot(), {
    toolsRunning: false,
    toolsVersion: null,
    toolsVersionType: null,
    toolsService: null,
    toolsBuild: null,
    capabilities: {},
    hostname: null,
    osName: null,
    osNameFull: null,
    osDetailed: null,
    nics: [],
    routes: [],
    dns: null,
    wins: null,
    dhcpv4: null,
    dhcpv6: null,
    nicReport: null,
    primaryIp: null,
    disks: [],
    uptimeSeconds: null,
    appInfo: null,
    containerInfo: null,
    vmsupportStatus: null,
    osStateChange: null,
    vmxOptions: {},
    guestinfo: {},
    log: [],
  });
});

test("scalar fields emit only when the value changes, compared by content", () => {
  const { g, events } = recorded();
  g.set("hostname", "simvm");
  g.set("hostname", "simvm");
  g.set("toolsRunning", true);
  g.set("toolsRunning", true);
  g.set("nics", [nic("192.0.2.2", 24)]);
  g.set("nics", [nic("192.0.2.2", 24)]); // equal, new object
  g.set("nics", [nic("192.0.2.2", 25)]);
  g.set("hostname", null);
  assert.deepEqual(
    events.map((e) => [e.field, e.value]),
    [
      ["hostname", "simvm"],
      ["toolsRunning", true],
      ["nics", [nic("192.0.2.2", 24)]],
      ["nics", [nic("192.0.2.2", 25)]],
      ["hostname", null],
    ],
  );
  assert.equal(g.get("hostname"), null);
  assert.equal(g.get("toolsRunning"), true);
});

test("named entries emit with their key, only on a new value; unsubscribing stops events", () => {
  const { g, events } = recorded();
  const late: GuestStateChange[] = [];
  const off = g.on((c) => late.push(c));
  g.setCapability("resolution_set", "1");
  g.setCapability("resolution_set", "1");
  g.setVmxOption("synctime", "1");
  off();
  g.setCapability("resolution_set", "0");
  assert.deepEqual(events, [
    { field: "capabilities", key: "resolution_set", value: "1" },
    { field: "vmxOptions", key: "synctime", value: "1" },
    { field: "capabilities", key: "resolution_set", value: "0" },
  ]);
  assert.equal(late.length, 2);
  assert.deepEqual(g.snapshot().capabilities, { resolution_set: "0" });
  assert.deepEqual(g.snapshot().vmxOptions, { synctime: "1" });
});

test("a snapshot is a deep copy: changing it changes neither the model nor later snapshots", () => {
  const { g } = recorded();
  g.set("nics", [nic("192.0.2.2", 24)]);
  g.set("osDetailed", { distroName: "Debian GNU/Linux", bitness: "64" });
  g.set("osStateChange", { success: true, state: 2 });
  g.setCapability("unified_loop", "toolbox");
  g.log("first");
  const s = g.snapshot();
  s.nics[0]!.ips.push({ address: "203.0.113.9", prefixLength: null, origin: null, status: null });
  s.nics[0]!.mac = "changed";
  s.osDetailed!["bitness"] = "32";
  s.osStateChange!.state = 9;
  s.capabilities["unified_loop"] = "changed";
  s.log.push("injected");
  s.guestinfo["guestinfo.x"] = "y";
  const t = g.snapshot();
  assert.deepEqual(t.nics, [nic("192.0.2.2", 24)]);
  assert.deepEqual(t.osDetailed, { distroName: "Debian GNU/Linux", bitness: "64" });
  assert.deepEqual(t.osStateChange, { success: true, state: 2 });
  assert.deepEqual(t.capabilities, { unified_loop: "toolbox" });
  assert.deepEqual(t.log, ["first"]);
  assert.deepEqual(t.guestinfo, {});
  assert.deepEqual(g.get("nics")[0]!.ips.length, 1);
});

test("the log keeps the newest GUEST_LOG_MAX_LINES lines, oldest dropped first, each one an event", () => {
  const { g, events } = recorded();
  for (let i = 0; i <= GUEST_LOG_MAX_LINES; i++) g.log(`line ${i}`);
  const log = g.snapshot().log;
  assert.equal(log.length, GUEST_LOG_MAX_LINES);
  assert.equal(log[0], "line 1");
  assert.equal(log[GUEST_LOG_MAX_LINES - 1], `line ${GUEST_LOG_MAX_LINES}`);
  assert.equal(events.length, GUEST_LOG_MAX_LINES + 1);
  assert.equal(g.counters.droppedLogLines, 1);
  g.log("same");
  g.log("same");
  assert.deepEqual(g.snapshot().log.slice(-2), ["same", "same"]);
});

test("log lines longer than GUEST_LOG_MAX_LINE are cut to it; the event carries the cut line", () => {
  const { g, events } = recorded();
  const exact = "a".repeat(GUEST_LOG_MAX_LINE);
  g.log(exact);
  g.log(exact + "bc");
  assert.deepEqual(g.snapshot().log, [exact, exact]);
  assert.deepEqual(
    events.map((e) => [e.field, e.value]),
    [
      ["log", exact],
      ["log", exact],
    ],
  );
});

test("named entries: GUEST_MAX_NAMED_ENTRIES per map kept, further new names dropped and counted", () => {
  const { g, events } = recorded();
  for (let i = 0; i < GUEST_MAX_NAMED_ENTRIES; i++) g.setCapability(`cap${i}`, "1");
  assert.equal(g.counters.droppedEntries, 0);
  g.setCapability("one-more", "1");
  g.setCapability("two-more", "1");
  assert.equal(g.counters.droppedEntries, 2);
  assert.equal(events.length, GUEST_MAX_NAMED_ENTRIES);
  assert.equal(Object.keys(g.snapshot().capabilities).length, GUEST_MAX_NAMED_ENTRIES);
  assert.equal(g.snapshot().capabilities["one-more"], undefined);
  // An existing name is still updated at the bound, and the vmx options have a bound of their own.
  g.setCapability("cap0", "2");
  g.setVmxOption("synctime", "0");
  assert.equal(g.snapshot().capabilities["cap0"], "2");
  assert.deepEqual(g.snapshot().vmxOptions, { synctime: "0" });
  assert.equal(g.counters.droppedEntries, 2);
  for (let i = 1; i < GUEST_MAX_NAMED_ENTRIES; i++) g.setVmxOption(`opt${i}`, "1");
  g.setVmxOption("opt-more", "1");
  assert.equal(g.counters.droppedEntries, 3);
});

test("guestinfo appears in the snapshot as text under its first spelling, live from the store", () => {
  const { g, store } = recorded();
  store.set("ip", "192.0.2.2");
  store.trySet("GuestInfo.Name", new TextEncoder().encode("simvm"));
  store.trySet("guestinfo.name", new TextEncoder().encode("simvm2"));
  store.set("bin", new Uint8Array([0x41, 0xff]));
  assert.deepEqual(g.snapshot().guestinfo, { "guestinfo.ip": "192.0.2.2", "GuestInfo.Name": "simvm2", "guestinfo.bin": "A\ufffd" });
  store.delete("ip");
  assert.deepEqual(Object.keys(g.snapshot().guestinfo), ["GuestInfo.Name", "guestinfo.bin"]);
});
