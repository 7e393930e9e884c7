/**
 * `vmport compare OURS THEIRS`: the test kernel's output under vmport against QEMU's, documented divergences only.
 *
 * Emulates: nothing; the command's options and usage. The work is in
 * `src/cli/compare-command.ts`, imported only when the command runs, so defining every command costs only commander.
 * Source of truth: `docs/protocol.md` §12.
 * Does not: validate beyond what commander and the option parsers do; the command module checks the rest.
 */
import type { Command } from "commander";
import type { SetStatus } from "../options.js";

/** Define `vmport compare` on `program`; its action reports the exit status through `setStatus`. */
export function addCompareCommand(program: Command, setStatus: SetStatus): void {
  program
    .command("compare")
    .description("compare the test kernel's COM1 output under vmport with QEMU's, allowing only documented divergences")
    .argument("<ours>", "output under vmport (e.g. vmport v86)")
    .argument("<theirs>", "output under qemu-system-i386 -machine pc,vmport=on")
    .action(async (ours: string, theirs: string) => {
      const { runCompare } = await import("../compare-command.js");
      setStatus(runCompare(ours, theirs));
    });
}
