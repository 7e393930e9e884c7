/**
 * v86's mouse events → the engine's vmmouse.
 *
 * Emulates: the host side of an absolute pointer in a v86 VM: v86 reports the pointer in screen pixels
 * (`mouse-absolute`: x, y, width, height), button changes (`mouse-click`: left, middle, right) and wheel steps
 * (`mouse-wheel`); each becomes one `vm.mouse.event` with x/y scaled to 0…0xFFFF and the vmmouse button bits.
 * Source of truth: `docs/protocol.md` §8 (packet layout, button bits); v86 `v86/src/browser/mouse.js` (event payloads).
 * Does not: raise IRQ 12 (v86 exposes no PS/2 injection API; the guest driver polls STATUS).
 */
import type { VirtualMachine } from "../vm/virtual-machine.js";
import type { V86Internals } from "./v86-types.js";

/** vmmouse button bits (`docs/protocol.md` §8). */
const LEFT = 0x20;
const RIGHT = 0x10;
const MIDDLE = 0x08;
/** The largest absolute coordinate. */
const ABS_MAX = 0xffff;

/** Scale pixel `p` of a `size`-pixel axis to 0…0xFFFF. */
function scale(p: number, size: number): number {
  return Math.round((p / Math.max(1, size - 1)) * ABS_MAX);
}

/** Feed `emulator`'s mouse events to `vm.mouse` (a no-op when the emulator has no event API). */
export function bridgeMouse(emulator: V86Internals, vm: VirtualMachine): void {
  const listen = <T>(event: string, fn: (arg: T) => void): void => emulator.add_listener?.(event, fn as (arg: never) => void);
  let buttons = 0;
  let x = 0;
  let y = 0;
  listen<[number, number, number, number]>("mouse-absolute", (d) => {
    x = scale(d[0], d[2]);
    y = scale(d[1], d[3]);
    vm.mouse.event(x, y, buttons);
  });
  listen<[boolean, boolean, boolean]>("mouse-click", (b) => {
    buttons = (b[0] ? LEFT : 0) | (b[1] ? MIDDLE : 0) | (b[2] ? RIGHT : 0);
    vm.mouse.event(x, y, buttons);
  });
  listen<[number, number]>("mouse-wheel", (d) => vm.mouse.event(x, y, buttons, d[0] | 0));
}
