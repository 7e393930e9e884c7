/**
 * `vmport run [options] -- PROGRAM [ARGS…]`: an unmodified Linux program against the simulated VMware host.
 *
 * Emulates: nothing; the command's options and usage. The work is in
 * `src/cli/run-command.ts`, imported only when the command runs, so defining every command costs only commander.
 * Source of truth: `docs/tracer.md`.
 * Does not: validate beyond what commander and the option parsers do; the command module checks the rest.
 */
import type { Command } from "commander";
import { collect, intIn, type SetStatus } from "../options.js";
import type { RunCliOptions } from "../run-command.js";

/** Define `vmport run` on `program`; its action reports the exit status through `setStatus`. */
export function addRunCommand(program: Command, setStatus: SetStatus): void {
  program
    .command("run")
    .description("run an unmodified Linux program against the simulated VMware host")
    .usage("[options] -- PROGRAM [ARGS...]")
    .option("--guestinfo <key=value>", "set guestinfo.KEY (prefix optional; VALUE @FILE reads a file); repeatable", collect, [])
    .option("--state <file>", "load durable state if present; save it atomically on change and at exit")
    .option("--profile <file>", "VM profile (JSON)")
    .option("--tclo <cmd>", "queue a host → guest TCLO command at start; repeatable", collect, [])
    .option("--trace <file>", "write one JSON line per backdoor access (file created mode 0600)")
    .option(
      "--trace-limit <bytes>",
      "stop writing the trace after BYTES (then one record counts the dropped ones); default: no limit",
      intIn("--trace-limit", 1, Number.MAX_SAFE_INTEGER),
    )
    .option("--pin <cpu>", "pin the tracer and the program to this CPU", intIn("--pin", 0, 4095))
    .option("--verbose", "report TCLO results and a summary on stderr", false)
    .option("--report <file>", "at exit, write what the host learnt (guest model, TCLO results, log, unknown RPCs) as JSON")
    .option("--control <path>", "serve a QMP control socket (mode 0600) at PATH while the program runs (vmport ctl PATH …)")
    .option(
      "--console [port]",
      "serve the web console on 127.0.0.1:PORT (default: a free port); its URL, with a token, is printed first",
      intIn("--console", 0, 65535),
    )
    .option(
      "--allow-dangerous-tclo",
      "let the console send OS_Halt, OS_Reboot, Time_Synchronize, vmbackup.*, deployPkg.*, Vix_* (after a confirmation)",
      false,
    )
    .argument("<program...>", "program and its arguments (after --)")
    .passThroughOptions()
    .action(async (prog: string[], opts: RunCliOptions) => {
      const { runRun } = await import("../run-command.js");
      setStatus(await runRun(prog, opts));
    });
}
