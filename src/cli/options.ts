/**
 * Option helpers shared by the command definitions (`src/cli/commands/`): the CPU mode option, bounded integers,
 * repeatable options.
 *
 * Emulates: nothing; command-line parsing.
 * Source of truth: commander 14 (`Option`, `choices`, custom argument parsers).
 * Does not: load anything but commander and the mode table, so that defining every command stays cheap.
 */
import { Option } from "commander";
import { CLI_MODES } from "../x86/cpu-mode.js";
import { usage } from "./errors.js";

/** Receives the exit status a command's action computed. */
export type SetStatus = (status: number) => void;

/** The CLI's mode names (`real`, `vm86`, `16`, `32`, `64`). */
export const MODES: readonly string[] = Object.keys(CLI_MODES);

/** The mandatory `--mode <mode>` option, limited to {@link MODES}. */
export function modeOption(): Option {
  return new Option("--mode <mode>", `CPU mode: ${MODES.join(", ")}`).choices(MODES).makeOptionMandatory();
}

/** A parser for an integer option `name` in `lo`…`hi` (decimal digits only); anything else is a usage error. */
export function intIn(name: string, lo: number, hi: number): (v: string) => number {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < lo || Number(v) > hi) usage(`${name} "${v}": expected an integer ${lo}..${hi}`);
    return Number(v);
  };
}

/** Accumulator for a repeatable option: every value, in order. */
export function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}
