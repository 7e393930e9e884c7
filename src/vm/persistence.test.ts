/**
 * Durable state: save → JSON → restore into a fresh VM keeps guestinfo (text and binary values), removable
 * devices, GUI options, the clipboard and the namespace database; a version-1 file (written before the namespace
 * database existed) still loads; a bad state is refused with VMPORT_BAD_STATE naming the field, and nothing of
 * it is applied.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtualClock } from "../core/clock.js";
import { isVmportError } from "../core/errors.js";
import { GUESTINFO_MAX_VALUE_BYTES } from "../channels/guestinfo-store.js";
import { MAX_REMOVABLE_DEVICES, MAX_SELECTION_BUFFER_LENGTH } from "../devices/backdoor/constants.js";
import { NAMESPACE_MAX_NAMESPACES, NAMESPACE_MAX_VALUE_BYTES } from "../channels/namespace-db.js";
import { STATE_VERSION, restoreDurableState, saveDurableState } from "./persistence.js";
import { VirtualMachine } from "./virtual-machine.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const freshVm = (): VirtualMachine => new VirtualMachine({ clock: new VirtualClock() });

/** A VM with something in every durable field. */
function populatedVm(): VirtualMachine {
  const vm = new VirtualMachine({
    clock: new VirtualClock(),
    profile: {
      devices: [
        { name: "ide1:0", enabled: true },
        { name: "floppy0", enabled: false },
      ],
      guiOptions: 0x1,
    },
  });
  vm.messaging.guestinfo.set("ip", "192.0.2.2");
  vm.messaging.guestinfo.set("GuestInfo.UserData", "#cloud-config\nhostname: simvm\n");
  vm.messaging.guestinfo.set("bin", new Uint8Array([0x00, 0xff, 0xfe, 0x41]));
  const s = vm.backdoor!.ctx.state;
  s.setDeviceEnabled(0, false);
  s.setDeviceEnabled(1, true);
  s.setGuiOptions(0x8000_0003);
  s.setHostClipboard(enc("from host"));
  s.publishGuestSelection(new Uint8Array([0x67, 0x80])); // "g", then an invalid UTF-8 byte
  vm.messaging.namespaces.set("com.example.agent", "status", "ready");
  vm.messaging.namespaces.set("com.example.agent", "blob", new Uint8Array([0x01, 0xff]));
  vm.messaging.namespaces.create("com.example.empty");
  return vm;
}

/** Everything restore may change, as comparable data. */
function durable(vm: VirtualMachine): unknown {
  const s = vm.backdoor!.ctx.state;
  return {
    guestinfo: vm.messaging.guestinfo.entries().map(([k, v]) => [k, [...v]]),
    devices: s.devices.map((d) => ({ ...d })),
    guiOptions: s.guiOptions,
    hostClipboard: s.hostClipboard === null ? null : [...s.hostClipboard],
    guestClipboard: s.guestClipboard === null ? null : [...s.guestClipboard],
    namespaces: vm.messaging.namespaces.entries().map(([ns, e]) => [ns, e.map(([k, v]) => [k, [...v]])]),
  };
}

/** Restore must throw VMPORT_BAD_STATE whose message names `field`. */
function assertRefused(vm: VirtualMachine, input: unknown, field: string): void {
  assert.throws(
    () => restoreDurableState(vm, input),
    (e: unknown) => isVmportError(e) && e.code === "VMPORT_BAD_STATE" && e.message.includes(field),
    `expected VMPORT_BAD_STATE naming ${field}`,
  );
}

test("save: text as strings, non-UTF-8 bytes as {base64}, devices, GUI options, clipboard", () => {
  const state = saveDurableState(populatedVm());
  assert.deepEqual(state, {
    version: STATE_VERSION,
    guestinfo: {
      "guestinfo.ip": "192.0.2.2",
      "GuestInfo.UserData": "#cloud-config\nhostname: simvm\n",
      "guestinfo.bin": { base64: "AP/+QQ==" },
    },
    devices: [
      { name: "ide1:0", enabled: false },
      { name: "floppy0", enabled: true },
    ],
    guiOptions: 0x8000_0003,
    clipboard: { host: "from host", guest: { base64: "Z4A=" } },
    namespaces: { "com.example.agent": { status: "ready", blob: { base64: "Af8=" } }, "com.example.empty": {} },
  });
});

// A state file exactly as vmport wrote it before the namespace database existed (format version 1).
const VERSION_1_FILE = `{
  "version": 1,
  "guestinfo": {
    "guestinfo.x": "y",
    "guestinfo.bin": {
      "base64": "AP8="
    }
  },
  "devices": [
    {
      "name": "ide1:0",
      "enabled": true
    }
  ],
  "guiOptions": 1024,
  "clipboard": {
    "host": null,
    "guest": "copied"
  }
}
`;

test("a version-1 state file still loads; the next save is version 2 with an empty namespace database", () => {
  const vm = populatedVm();
  restoreDurableState(vm, JSON.parse(VERSION_1_FILE));
  assert.deepEqual(durable(vm), {
    guestinfo: [
      ["guestinfo.x", [0x79]],
      ["guestinfo.bin", [0x00, 0xff]],
    ],
    devices: [{ name: "ide1:0", enabled: true }],
    guiOptions: 1024,
    hostClipboard: null,
    guestClipboard: [...enc("copied")],
    namespaces: [],
  });
  const saved = saveDurableState(vm);
  assert.equal(saved.version, 2);
  assert.deepEqual(saved.namespaces, {});
  assertRefused(freshVm(), { ...JSON.parse(VERSION_1_FILE), namespaces: {} }, '"namespaces"'); // not a version-1 field
});

test("namespaces: values bounded as a guest write would be; a bad entry is refused naming it, nothing applied", () => {
  const ok = { version: 2, namespaces: { ns: { k: "v".repeat(NAMESPACE_MAX_VALUE_BYTES) } } };
  const vm = freshVm();
  restoreDurableState(vm, ok);
  assert.equal(vm.messaging.namespaces.get("ns", "k")?.length, NAMESPACE_MAX_VALUE_BYTES);
  const tooMany = Object.fromEntries(Array.from({ length: NAMESPACE_MAX_NAMESPACES + 1 }, (_, i) => [`ns${i}`, {}]));
  const cases: [unknown, string][] = [
    [[], '"namespaces"'],
    [{ ns: [] }, 'namespaces["ns"]'],
    [{ ns: { k: "v".repeat(NAMESPACE_MAX_VALUE_BYTES + 1) } }, 'namespaces["ns"]["k"]'],
    [{ ns: { k: "" } }, 'namespaces["ns"]["k"]'],
    [{ ns: { k: 1 } }, 'namespaces["ns"]["k"]'],
    [{ ns: { "": "v" } }, 'namespaces["ns"][""]'],
    [{ "": {} }, 'namespaces[""]'],
    [tooMany, `namespaces["ns${NAMESPACE_MAX_NAMESPACES}"]`],
  ];
  for (const [namespaces, field] of cases) {
    const v = populatedVm();
    const before = durable(v);
    assertRefused(v, { version: 2, namespaces }, field);
    assert.deepEqual(durable(v), before, `state changed after refusing ${field}`);
  }
});

test("round trip: save → JSON text → restore into a fresh VM gives the same durable state", () => {
  const a = populatedVm();
  const text = JSON.stringify(saveDurableState(a));
  const b = new VirtualMachine({
    clock: new VirtualClock(),
    profile: {
      devices: [
        { name: "ide1:0", enabled: true },
        { name: "floppy0", enabled: false },
      ],
    },
  });
  restoreDurableState(b, JSON.parse(text));
  assert.deepEqual(durable(b), durable(a));
  assert.deepEqual([...b.messaging.guestinfo.get("GUESTINFO.BIN")!], [0x00, 0xff, 0xfe, 0x41]);
  assert.equal(JSON.stringify(saveDurableState(b)), text);
});

test("restore replaces: guestinfo not in the state is removed, devices take the state's list", () => {
  const vm = populatedVm();
  vm.messaging.guestinfo.set("stale", "x");
  restoreDurableState(vm, {
    version: 1,
    guestinfo: { "guestinfo.kept": "1" },
    devices: [{ name: "sata0:1", enabled: true }],
    guiOptions: 0,
    clipboard: { host: null, guest: null },
  });
  assert.deepEqual(durable(vm), {
    guestinfo: [["guestinfo.kept", [0x31]]],
    devices: [{ name: "sata0:1", enabled: true }],
    guiOptions: 0,
    hostClipboard: null,
    guestClipboard: null,
    namespaces: [],
  });
});

test("only version is required: missing fields restore as empty", () => {
  const vm = populatedVm();
  restoreDurableState(vm, { version: 1 });
  assert.deepEqual(durable(vm), { guestinfo: [], devices: [], guiOptions: 0, hostClipboard: null, guestClipboard: null, namespaces: [] });
  restoreDurableState(populatedVm(), { version: 2 });
});

test('a wrong or missing version is refused naming "version"', () => {
  for (const version of [3, 0, "1", "2", null, undefined]) {
    const vm = populatedVm();
    const before = durable(vm);
    assertRefused(vm, { version, guestinfo: {} }, '"version"');
    assert.deepEqual(durable(vm), before);
  }
});

test("an unknown field is refused naming it; a non-object root is refused", () => {
  const vm = populatedVm();
  const before = durable(vm);
  assertRefused(vm, { version: 1, guestinfo: {}, pointer: { x: 1 } }, '"pointer"');
  for (const root of [null, [], "state", 1]) assertRefused(vm, root, "(root)");
  assert.deepEqual(durable(vm), before);
});

test("each bad field is refused naming it, and nothing of the state is applied", () => {
  const good = { "guestinfo.new": "value" };
  const cases: [Record<string, unknown>, string][] = [
    [{ guestinfo: [] }, '"guestinfo"'],
    [{ guestinfo: { ...good, "guestinfo.n": 5 } }, "guestinfo.n"],
    [{ guestinfo: { ...good, "guestinfo.b": { base64: "not base64!" } } }, "guestinfo.b"],
    [{ guestinfo: { ...good, "not-guestinfo": "x" } }, "not-guestinfo"],
    [{ guestinfo: { ...good, "guestinfo.big": "x".repeat(GUESTINFO_MAX_VALUE_BYTES + 1) } }, "guestinfo.big"],
    [{ guestinfo: good, devices: {} }, '"devices"'],
    [
      { guestinfo: good, devices: Array.from({ length: MAX_REMOVABLE_DEVICES + 1 }, (_, i) => ({ name: `d${i}`, enabled: true })) },
      '"devices"',
    ],
    [{ guestinfo: good, devices: [{ name: "ok", enabled: true }, 3] }, "devices[1]"],
    [{ guestinfo: good, devices: [{ name: "", enabled: true }] }, "devices[0].name"],
    [{ guestinfo: good, devices: [{ name: "x".repeat(32), enabled: true }] }, "devices[0].name"],
    [{ guestinfo: good, devices: [{ name: "caf\u00e9", enabled: true }] }, "devices[0].name"],
    [{ guestinfo: good, devices: [{ name: "cd", enabled: 1 }] }, "devices[0].enabled"],
    [{ guestinfo: good, guiOptions: -1 }, '"guiOptions"'],
    [{ guestinfo: good, guiOptions: 0x1_0000_0000 }, '"guiOptions"'],
    [{ guestinfo: good, guiOptions: 1.5 }, '"guiOptions"'],
    [{ guestinfo: good, guiOptions: "1" }, '"guiOptions"'],
    [{ guestinfo: good, clipboard: "text" }, '"clipboard"'],
    [{ guestinfo: good, clipboard: { host: 7, guest: null } }, "clipboard.host"],
    [{ guestinfo: good, clipboard: { host: null, guest: { base64: "%%%%" } } }, "clipboard.guest"],
    [{ guestinfo: good, clipboard: { host: "x".repeat(MAX_SELECTION_BUFFER_LENGTH + 1), guest: null } }, "clipboard.host"],
  ];
  for (const [fields, field] of cases) {
    const vm = populatedVm();
    const before = durable(vm);
    assertRefused(vm, { version: 1, ...fields }, field);
    assert.deepEqual(durable(vm), before, `state changed after refusing ${field}`);
  }
});

test("the bounds themselves are accepted: 31-byte device names, 50 devices, 0xffffffff, a full clipboard", () => {
  const vm = freshVm();
  const devices = Array.from({ length: MAX_REMOVABLE_DEVICES }, (_, i) => ({
    name: `${"d".repeat(29)}${String(i).padStart(2, "0")}`,
    enabled: i % 2 === 0,
  }));
  const clip = "c".repeat(MAX_SELECTION_BUFFER_LENGTH);
  restoreDurableState(vm, { version: 1, devices, guiOptions: 0xffffffff, clipboard: { host: clip, guest: clip } });
  const s = vm.backdoor!.ctx.state;
  assert.equal(s.devices.length, MAX_REMOVABLE_DEVICES);
  assert.equal(s.devices[49]!.name.length, 31);
  assert.equal(s.guiOptions, 0xffffffff);
  assert.equal(s.hostClipboard!.length, MAX_SELECTION_BUFFER_LENGTH);
  assert.equal(s.guestClipboard!.length, MAX_SELECTION_BUFFER_LENGTH);
});

test("a restored host clipboard is read from its start", () => {
  const vm = freshVm();
  const s = vm.backdoor!.ctx.state;
  s.setHostClipboard(enc("old text"));
  s.volatile.hostClipboardPos = 4;
  restoreDurableState(vm, { version: 1, clipboard: { host: "new", guest: null } });
  assert.deepEqual([...s.hostClipboard!], [...enc("new")]);
  assert.equal(s.volatile.hostClipboardPos, 0);
});

test("a bad guestinfo value is named the same way whatever is wrong with it", () => {
  const vm = new VirtualMachine({ clock: new VirtualClock() });
  const base = saveDurableState(vm);
  for (const value of [{ base64: "!!" }, "x".repeat(70000)]) {
    assert.throws(
      () => restoreDurableState(vm, { ...base, guestinfo: { "guestinfo.b": value } }),
      (e: unknown) => isVmportError(e) && e.code === "VMPORT_BAD_STATE" && e.message.startsWith('state field "guestinfo["guestinfo.b"]"'),
    );
  }
});

test("keys a JSON object inherits (__proto__, constructor, toString, …) are refused by name at every level", () => {
  const vm = populatedVm();
  const before = durable(vm);
  const ok = JSON.parse(JSON.stringify(saveDurableState(populatedVm())));
  for (const k of ["__proto__", "constructor", "toString", "hasOwnProperty"]) {
    assertRefused(vm, JSON.parse(`{"version": 1, "${k}": {}}`), k);
    assertRefused(vm, { ...ok, devices: [JSON.parse(`{"name": "cd", "enabled": true, "${k}": 1}`)] }, `devices[0].${k}`);
    assertRefused(vm, { ...ok, clipboard: JSON.parse(`{"host": null, "${k}": 1}`) }, `clipboard.${k}`);
    assertRefused(vm, { ...ok, clipboard: { host: JSON.parse(`{"base64": "QQ==", "${k}": 1}`), guest: null } }, `clipboard.host.${k}`);
    assertRefused(vm, { ...ok, guestinfo: JSON.parse(`{"${k}": "x"}`) }, `guestinfo["${k}"]`);
  }
  // Inherited values are not read: fields must be the state's own.
  assertRefused(vm, Object.create({ version: 1 }), "version");
  assertRefused(vm, { ...ok, devices: [Object.create({ name: "cd", enabled: true })] }, "devices[0].name");
  assertRefused(vm, { ...ok, clipboard: { host: Object.create({ base64: "QQ==" }), guest: null } }, "clipboard.host");
  assert.deepEqual(durable(vm), before, "nothing of a refused state was applied");
});
