/**
 * State files written before the per-component state refactor still load and give the same model.
 *
 * The fixtures in `fixtures/` were produced by the code of main at commit 5c9103c (before `saveState`/
 * `restoreState` moved into the components): `state-v2.json` is a save of a VM with something in every durable
 * field, written the way the front ends write it (`JSON.stringify(state, null, 2)` and a newline);
 * `state-v1.json` is the same file in format 1 (no namespace database). `state-vN.model.json` is what that code
 * restored from each file, as comparable data (bytes as arrays of numbers); `state-v1.resaved-as-v2.json` is what
 * it saved after restoring the format-1 file.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { VirtualClock } from "../core/clock.js";
import { restoreDurableState, saveDurableState } from "./persistence.js";
import { VirtualMachine } from "./virtual-machine.js";

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");

/** A VM whose profile differs from the fixture in every field, so a restore that misses one shows. */
const otherVm = (): VirtualMachine =>
  new VirtualMachine({ clock: new VirtualClock(), profile: { devices: [{ name: "cdrom9", enabled: true }], guiOptions: 0x4 } });

/** Everything a restore sets, as comparable data. */
function model(vm: VirtualMachine): unknown {
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

for (const version of [1, 2]) {
  test(`a format-${version} state file written by the old code loads into the same model`, () => {
    const vm = otherVm();
    restoreDurableState(vm, JSON.parse(fixture(`state-v${version}.json`)));
    assert.deepEqual(model(vm), JSON.parse(fixture(`state-v${version}.model.json`)));
  });
}

test("saving the restored state writes the old bytes: format 2 unchanged, format 1 as the old code upgraded it", () => {
  for (const [input, expected] of [
    ["state-v2.json", "state-v2.json"],
    ["state-v1.json", "state-v1.resaved-as-v2.json"],
  ]) {
    const vm = otherVm();
    restoreDurableState(vm, JSON.parse(fixture(input!)));
    assert.equal(JSON.stringify(saveDurableState(vm), null, 2) + "\n", fixture(expected!), input);
  }
});
