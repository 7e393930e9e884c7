/** v86's mouse events reach vmmouse scaled to 0…0xFFFF, with vmmouse's button bits and the wheel delta. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtualClock } from "../core/clock.js";
import { VirtualMachine } from "../vm/virtual-machine.js";
import type { VmmousePacket } from "../devices/vmmouse/vmmouse.js";
import { bridgeMouse } from "./mouse-bridge.js";
import type { V86Internals } from "./v86-types.js";

function setup() {
  const listeners = new Map<string, (arg: never) => void>();
  const emulator = {
    v86: { cpu: null as never },
    add_listener: (e: string, fn: (arg: never) => void) => void listeners.set(e, fn),
  } as V86Internals;
  const vm = new VirtualMachine({ clock: new VirtualClock() });
  vm.mouse.enabled = true; // as after the guest's READ_ID
  const seen: VmmousePacket[] = [];
  vm.mouse.packets.on((p) => seen.push(p));
  bridgeMouse(emulator, vm);
  const send = (e: string, arg: unknown) => (listeners.get(e) as (a: unknown) => void)(arg);
  return { send, seen, listeners };
}

test("the three events are listened to, and a pixel position becomes 0…0xFFFF of the screen", () => {
  const { send, seen, listeners } = setup();
  assert.deepEqual([...listeners.keys()].sort(), ["mouse-absolute", "mouse-click", "mouse-wheel"]);
  send("mouse-absolute", [0, 0, 1024, 768]);
  send("mouse-click", [true, false, false]); // left
  send("mouse-absolute", [1023, 767, 1024, 768]); // bottom-right pixel
  send("mouse-click", [false, false, true]); // right
  send("mouse-click", [false, true, false]); // middle
  send("mouse-wheel", [-2, 0]);
  assert.deepEqual(
    seen.map((p) => [p.flags, p.x, p.y, p.wheel]),
    [
      [0, 0, 0, 0],
      [0x20, 0, 0, 0],
      [0x20, 0xffff, 0xffff, 0],
      [0x10, 0xffff, 0xffff, 0],
      [0x08, 0xffff, 0xffff, 0],
      [0x08, 0xffff, 0xffff, -2],
    ],
  );
});

test("a one-pixel screen does not divide by zero; an emulator without add_listener is left alone", () => {
  const { send, seen } = setup();
  send("mouse-absolute", [0, 0, 1, 1]);
  assert.deepEqual([seen[0]!.x, seen[0]!.y], [0, 0]);
  assert.doesNotThrow(() => bridgeMouse({ v86: { cpu: null as never } }, new VirtualMachine({ clock: new VirtualClock() })));
});
