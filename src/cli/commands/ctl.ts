/**
 * `vmport ctl PATH COMMAND …`: drive (or watch) a running `vmport run --control PATH`.
 *
 * Emulates: nothing; the command's options and usage. The work is in
 * `src/cli/ctl-command.ts`, imported only when the command runs, so defining every command costs only commander.
 * Source of truth: the QMP control socket, `src/host/control-server.ts`.
 * Does not: validate beyond what commander and the option parsers do; the command module checks the rest.
 */
import type { Command } from "commander";
import type { SetStatus } from "../options.js";

/** Define `vmport ctl` on `program`; its action reports the exit status through `setStatus`. */
export function addCtlCommand(program: Command, setStatus: SetStatus): void {
  program
    .command("ctl")
    .description("drive a running vmport run --control PATH: COMMAND [NAME=VALUE | NAME:=JSON ...], or watch [EVENT ...]")
    .usage("[--json] PATH COMMAND [NAME=VALUE | NAME:=JSON ...]  |  [--json] PATH watch [EVENT ...]")
    .option("--json", "print the return value (or each event) as JSON", false)
    .argument("<path>", "the control socket")
    .argument("<command>", "a command (query-guest, guestinfo-set, tclo-send, …) or watch")
    .argument("[args...]", "arguments: NAME=VALUE (a string) or NAME:=JSON; for watch, event names")
    .action(async (path: string, command: string, args: string[], opts: { json: boolean }) => {
      const { runCtl } = await import("../ctl-command.js"); // loaded only for ctl
      setStatus(await runCtl(path, command, args, opts));
    });
}
