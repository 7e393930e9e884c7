/**
 * `vmport decode`: what the decoder makes of an IN/OUT/INS/OUTS/RDPMC byte string (one, or one per stdin line).
 *
 * Emulates: nothing; the command's options and usage. The work is in
 * `src/cli/decode-command.ts`, imported only when the command runs, so defining every command costs only commander.
 * Source of truth: the decoder, `src/x86/decoder.ts`.
 * Does not: validate beyond what commander and the option parsers do; the command module checks the rest.
 */
import type { Command } from "commander";
import { CLI_MODES } from "../../x86/cpu-mode.js";
import { modeOption, type SetStatus } from "../options.js";

/** Define `vmport decode` on `program`; its action reports the exit status through `setStatus`. */
export function addDecodeCommand(program: Command, setStatus: SetStatus): void {
  program
    .command("decode")
    .description("decode IN/OUT/INS/OUTS/RDPMC; HEX like '66 ed', or '-' for one HEX per stdin line")
    .addOption(modeOption())
    .argument("<hex...>", "instruction bytes, or -")
    .action(async (hexParts: string[], opts: { mode: string }) => {
      const { runDecode } = await import("../decode-command.js");
      setStatus(await runDecode(CLI_MODES[opts.mode]!, hexParts.join(" ")));
    });
}
