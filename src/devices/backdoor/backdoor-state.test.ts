/**
 * BackdoorState on its own: durable changes bump the generation (and only real changes do), saveState gives
 * copies, restoreState validates the whole value before applying any of it and refuses with VMPORT_BAD_STATE
 * naming the field, and counters and volatile state are not part of the saved value.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { isVmportError } from "../../core/errors.js";
import { resolveProfile } from "../profile.js";
import { MAX_SELECTION_BUFFER_LENGTH } from "./constants.js";
import { BackdoorState, checkBackdoorSavedState } from "./backdoor-state.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const fresh = (): BackdoorState =>
  new BackdoorState(
    resolveProfile({
      devices: [
        { name: "cd0", enabled: true },
        { name: "fd0", enabled: false },
      ],
      guiOptions: 1,
    }),
  );

test("durable changes bump the generation; setting the same value or a missing device does not", () => {
  const s = fresh();
  const g0 = s.generation;
  s.setGuiOptions(1);
  assert.equal(s.generation, g0);
  s.setGuiOptions(0x1_0000_0003); // taken as 32 bits
  assert.equal(s.guiOptions, 3);
  assert.equal(s.generation, g0 + 1);
  assert.equal(s.setDeviceEnabled(0, true), true);
  assert.equal(s.generation, g0 + 1);
  assert.equal(s.setDeviceEnabled(1, true), true);
  assert.equal(s.generation, g0 + 2);
  assert.equal(s.setDeviceEnabled(2, true), false);
  assert.equal(s.generation, g0 + 2);
  let seen: number[] = [];
  s.guestSelections.on((t) => (seen = [...t]));
  s.publishGuestSelection(enc("hi"));
  assert.deepEqual(seen, [...enc("hi")]);
  assert.equal(s.generation, g0 + 3);
  // Volatile state and counters are not durable.
  s.volatile.pointerX = 5;
  s.counters.clipboardRefused++;
  assert.equal(s.generation, g0 + 3);
});

test("saveState is plain data and a copy; restoreState of it into another state gives the same save", () => {
  const s = fresh();
  s.setDeviceEnabled(0, false);
  s.setHostClipboard(enc("host"));
  s.publishGuestSelection(enc("guest"));
  const saved = s.saveState();
  assert.deepEqual(saved, {
    devices: [
      { name: "cd0", enabled: false },
      { name: "fd0", enabled: false },
    ],
    guiOptions: 1,
    clipboard: { host: enc("host"), guest: enc("guest") },
  });
  saved.devices[0]!.enabled = true;
  saved.clipboard.host![0] = 0;
  assert.deepEqual(s.saveState().clipboard.host, enc("host"), "the save is a copy");
  assert.equal(s.devices[0]!.enabled, false);
  const t = new BackdoorState(resolveProfile({}));
  const g = t.generation;
  t.restoreState(s.saveState());
  assert.deepEqual(t.saveState(), s.saveState());
  assert.ok(t.generation > g, "a restore is a durable change");
});

test("restoreState refuses a bad value naming the field, and applies nothing of it", () => {
  const good = fresh().saveState();
  const cases: [unknown, string][] = [
    [null, "(backdoor)"],
    [{ ...good, extra: 1 }, "(backdoor).extra"],
    [{ ...good, devices: [{ name: "", enabled: true }] }, "devices[0].name"],
    [{ ...good, devices: [{ name: "x".repeat(32), enabled: true }] }, "devices[0].name"],
    [{ ...good, devices: [{ name: "ok", enabled: "yes" }] }, "devices[0].enabled"],
    [{ ...good, guiOptions: -1 }, "guiOptions"],
    [{ ...good, clipboard: { host: "text", guest: null } }, "clipboard.host"],
    [{ ...good, clipboard: { host: null, guest: new Uint8Array(MAX_SELECTION_BUFFER_LENGTH + 1) } }, "clipboard.guest"],
    [{ ...good, clipboard: { host: null } }, "clipboard.guest"],
  ];
  for (const [v, field] of cases) {
    const s = fresh();
    s.setHostClipboard(enc("keep"));
    const before = s.saveState();
    const gen = s.generation;
    assert.throws(
      () => s.restoreState(v),
      (e: unknown) => isVmportError(e) && e.code === "VMPORT_BAD_STATE" && e.message.includes(`"${field}"`),
      field,
    );
    assert.deepEqual(s.saveState(), before, `nothing applied after refusing ${field}`);
    assert.equal(s.generation, gen);
    assert.throws(
      () => checkBackdoorSavedState(v),
      (e: unknown) => isVmportError(e) && e.code === "VMPORT_BAD_STATE",
    );
  }
});

test("a restore rewinds the host text and drops a guest transfer in progress", () => {
  const s = fresh();
  s.setHostClipboard(enc("old text"));
  s.volatile.hostClipboardPos = 4;
  s.volatile.guestExpected = 8;
  s.volatile.guestPending = new Uint8Array(8);
  s.restoreState({ ...s.saveState(), clipboard: { host: enc("new"), guest: null } });
  assert.deepEqual(s.hostClipboard, enc("new"));
  assert.equal(s.volatile.hostClipboardPos, 0);
  assert.equal(s.volatile.guestPending, null);
  assert.equal(s.volatile.guestExpected, 0);
});
