/**
 * `vmport v86`: boot a Multiboot kernel in v86 with vmport attached.
 *
 * Emulates: nothing; the command's options and usage. The work is in
 * `src/cli/v86-command.ts`, imported only when the command runs, so defining every command costs only commander.
 * Source of truth: `docs/architecture.md` "The v86 path".
 * Does not: validate beyond what commander and the option parsers do; the command module checks the rest.
 */
import type { Command } from "commander";
import { collect, intIn, type SetStatus } from "../options.js";
import type { V86Options } from "../v86-command.js";

/** Define `vmport v86` on `program`; its action reports the exit status through `setStatus`. */
export function addV86Command(program: Command, setStatus: SetStatus): void {
  program
    .command("v86")
    .description("boot a Multiboot kernel in v86 with vmport attached; COM1 to stdout; exit via isa-debug-exit (port 0xf4)")
    .requiredOption("--multiboot <file>", "the kernel")
    .option("--bios <file>", "BIOS image", "/usr/share/seabios/bios.bin")
    .option("--profile <file>", "VM profile (JSON)")
    .option("--guestinfo <key=value>", "set guestinfo.KEY; repeatable", collect, [])
    .option("--timeout <s>", "give up after this many seconds (exit 124)", intIn("--timeout", 1, 3600), 60)
    .option("--builtin", "use v86's own VMware device instead of vmport (for comparisons)", false)
    .action(async (opts: V86Options) => {
      const { runV86 } = await import("../v86-command.js");
      setStatus(await runV86(opts));
    });
}
