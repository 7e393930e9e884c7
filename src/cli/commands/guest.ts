/**
 * `vmport guest`: the guest side (`vmport/guest`) from the command line: check, info-get, info-set, rpc.
 *
 * Emulates: nothing; the command's options and usage. The work is in
 * `src/cli/guest-command.ts`, imported only when the command runs, so defining every command costs only commander.
 * Source of truth: `docs/clients.md#vmports-own-guest-side`.
 * Does not: validate beyond what commander and the option parsers do; the command module checks the rest.
 */
import type { Command } from "commander";
import type { SetStatus } from "../options.js";

/** Define `vmport guest` on `program`; its action reports the exit status through `setStatus`. */
export function addGuestCommand(program: Command, setStatus: SetStatus): void {
  program
    .command("guest")
    .description("inside a VMware guest (or under vmport run): check | info-get KEY | info-set KEY VALUE | rpc COMMAND")
    .argument("<command>", "check, info-get, info-set or rpc")
    .argument("[args...]", "arguments of the command")
    .option("-p", "check: print the product type (as vmware-checkvm -p)", false)
    .option("--lb", "use the low-bandwidth port only (no rep insb/outsb)", false)
    .action(async (cmd: string, args: string[], opts: { p: boolean; lb: boolean }) => {
      const { runGuest, runGuestDemo } = await import("../guest-command.js");
      setStatus(cmd === "demo-steps" ? runGuestDemo() : runGuest(cmd, args, { lb: opts.lb, product: opts.p }));
    });
}
