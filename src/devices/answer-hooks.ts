/**
 * Answer hooks: where a front end may change the host's answers before the guest sees them (`vmport fuzz` turns
 * the host hostile through these). Three points: the registers a low-bandwidth command returns (every backdoor
 * command, message-channel steps included), a high-bandwidth transfer (may be made to fail), and an RPCI reply.
 *
 * Emulates: nothing; a seam. Source of truth: `docs/fuzzing.md` (what is mutated and how a run is recorded).
 * Each hook is called only when installed (a `hooks` field that is null by default on `BackdoorDevice`,
 * `MessageChannels` and `RpciDispatcher`): with none installed, the engine runs exactly what it ran before.
 * Does not: let a hook see or change guest memory, or answer for a command the guest did not send.
 */
import type { RegisterPatch } from "./backdoor/command-registry.js";

/** The hooks a front end installs; each must not throw (the engine calls it inside a guest access). */
export interface AnswerHooks {
  /**
   * A low-bandwidth command ran and set `patch` (ECX bits 16–31 are `subcommand`, the message type for command
   * 30). Change `patch` in place to change what the guest gets.
   */
  lbResult(command: number, subcommand: number, patch: RegisterPatch): void;
  /** A high-bandwidth transfer of `size` bytes is about to run; true makes it fail (EBX = 0, no data moved). */
  hbFail(direction: "in" | "out", size: number): boolean;
  /** The host answers `request` (command `name`) with `reply` (`"1 …"`/`"0 …"`); return the bytes to send instead. */
  rpciReply(name: string, request: Uint8Array, reply: Uint8Array): Uint8Array;
}
