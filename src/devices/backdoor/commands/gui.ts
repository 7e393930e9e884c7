/**
 * GUI-facing commands: GETPTRLOCATION (4), SETPTRLOCATION (5), GETGUIOPTIONS (13), SETGUIOPTIONS (14),
 * GETSCREENSIZE (15).
 *
 * Source of truth: `docs/protocol.md` §3 (`toolbox-cmd timesync status` reads bit 0x400 of GETGUIOPTIONS);
 * Ken Kato's backdoor page for 4/5.
 * Does not: move a real pointer; the position is state the host side sets and reads.
 */
import { BdoorCmd } from "../constants.js";
import type { CommandHandler, CommandRegistry } from "../command-registry.js";

/** GETPTRLOCATION: EAX = x << 16 | y. */
export const getPtrLocation: CommandHandler = (_f, ctx, out) =>
  out.eax(((ctx.state.volatile.pointerX & 0xffff) << 16) | (ctx.state.volatile.pointerY & 0xffff));

/** SETPTRLOCATION: EBX = x << 16 | y. No outputs. */
export const setPtrLocation: CommandHandler = (f, ctx, out) => {
  ctx.state.volatile.pointerX = f.ebx >>> 16;
  ctx.state.volatile.pointerY = f.ebx & 0xffff;
  return out;
};

/** GETGUIOPTIONS: EAX = option bits. */
export const getGuiOptions: CommandHandler = (_f, ctx, out) => out.eax(ctx.state.guiOptions);

/** SETGUIOPTIONS: EBX = the new option bits. No outputs. */
export const setGuiOptions: CommandHandler = (f, ctx, out) => {
  ctx.state.setGuiOptions(f.ebx);
  return out;
};

/** GETSCREENSIZE: EAX = width << 16 | height. */
export const getScreenSize: CommandHandler = (_f, ctx, out) => out.eax((ctx.profile.screenWidth << 16) | ctx.profile.screenHeight);

/** Register this family. */
export function registerGuiCommands(r: CommandRegistry): void {
  r.register(BdoorCmd.GETPTRLOCATION, "GETPTRLOCATION", getPtrLocation);
  r.register(BdoorCmd.SETPTRLOCATION, "SETPTRLOCATION", setPtrLocation);
  r.register(BdoorCmd.GETGUIOPTIONS, "GETGUIOPTIONS", getGuiOptions);
  r.register(BdoorCmd.SETGUIOPTIONS, "SETGUIOPTIONS", setGuiOptions);
  r.register(BdoorCmd.GETSCREENSIZE, "GETSCREENSIZE", getScreenSize);
}
