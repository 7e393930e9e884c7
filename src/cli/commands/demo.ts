/**
 * `vmport demo`: a real guest against the simulated VMware host, and what both sides saw.
 *
 * Emulates: nothing; the command's options and usage. The work is in
 * `src/cli/demo-command.ts`, imported only when the command runs, so defining every command costs only commander.
 * Source of truth: `docs/clients.md#vmports-own-guest-side`.
 * Does not: validate beyond what commander and the option parsers do; the command module checks the rest.
 */
import type { Command } from "commander";
import type { SetStatus } from "../options.js";

/** Define `vmport demo` on `program`; its action reports the exit status through `setStatus`. */
export function addDemoCommand(program: Command, setStatus: SetStatus): void {
  program
    .command("demo")
    .description("run a real guest against the simulated VMware host and show what both sides saw")
    .action(async () => {
      const { runDemo } = await import("../demo-command.js");
      setStatus(await runDemo());
    });
}
