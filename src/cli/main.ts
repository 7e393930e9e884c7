#!/usr/bin/env node
/**
 * The `vmport` command line.
 *
 * Commands, one file each under `commands/` (options and usage; the work in the matching `*-command.ts`, imported
 * only when the command runs): `decode` (what the decoder makes of a byte string), `step` (execute one instruction
 * on a fresh VM), `run` (a program against the simulated host), `fuzz` (the same, again and again, against a hostile host), `ctl` (drive a `run --control` socket), `guest`
 * (the guest side: check, info-get, info-set, rpc), `v86` (boot a kernel in v86 with vmport attached), `compare`
 * (its output against QEMU's), `demo` (a real guest against the simulated host).
 * Every usage error is one `vmport:` line on stderr and exit status 2.
 */
// First: records how descriptors 0–2 were given, before anything (Node's libuv) changes their flags.
import "../host/stdio.js";
import { prestartTracerWorker } from "../host/tracer/worker-start.js";
import { Command, CommanderError } from "commander";
import { addCompareCommand } from "./commands/compare.js";
import { addCtlCommand } from "./commands/ctl.js";
import { addDecodeCommand } from "./commands/decode.js";
import { addDemoCommand } from "./commands/demo.js";
import { addGuestCommand } from "./commands/guest.js";
import { addRunCommand } from "./commands/run.js";
import { addFuzzCommand } from "./commands/fuzz.js";
import { addStepCommand } from "./commands/step.js";
import { addV86Command } from "./commands/v86.js";
import { EXIT_USAGE, reportError } from "./errors.js";
import type { SetStatus } from "./options.js";

// `vmport run`: the tracer thread loads its modules while this thread loads the command's (docs/performance.md).
// Each command's module is imported when it runs, so a command loads only what it needs.
/** Executed directly (not imported by tests). */
const direct = /(?:^|[\\/])(?:main\.(?:js|ts)|vmport)$/.test(process.argv[1] ?? "");
if (direct && process.argv[2] === "run") prestartTracerWorker();

/** Build the program (exported for tests): every command, each defined in its own file under `src/cli/commands/`. */
export function buildProgram(setStatus: SetStatus): Command {
  const program = new Command("vmport")
    .description("The host side of the VMware backdoor")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: () => {} })
    .showSuggestionAfterError(false)
    .enablePositionalOptions();
  for (const add of [
    addDecodeCommand,
    addStepCommand,
    addRunCommand,
    addFuzzCommand,
    addCtlCommand,
    addGuestCommand,
    addV86Command,
    addCompareCommand,
    addDemoCommand,
  ]) {
    add(program, setStatus);
  }
  return program;
}

/** Run the CLI with `argv` (without node and script). Returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  let status = 0;
  const program = buildProgram((n) => (status = n));
  try {
    await program.parseAsync(argv, { from: "user" });
    return status;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return 0;
      if (err.code === "commander.help") return EXIT_USAGE; // no command given: help went to stderr
      const msg = err.message.replace(/^error: /, "");
      process.stderr.write(`vmport: ${msg}\n`);
      return err.code === "commander.executeSubCommandAsync" ? 1 : EXIT_USAGE;
    }
    return reportError(err);
  }
}

// Run when executed directly (not when imported by tests).
if (direct) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.exitCode = reportError(err);
    },
  );
}
