/**
 * `vmport fuzz [options] -- PROGRAM [ARGS…]`: the program again and again against a hostile simulated VMware host.
 *
 * Emulates: nothing; the command's options and usage. The work is in `src/cli/fuzz-command.ts`, imported only when
 * the command runs, so defining every command costs only commander.
 * Source of truth: `docs/fuzzing.md`.
 * Does not: validate beyond what commander and the option parsers do; the command module checks the rest.
 */
import type { Command } from "commander";
import { collect, intIn, type SetStatus } from "../options.js";
import type { FuzzCliOptions } from "../fuzz-command.js";

/** Define `vmport fuzz` on `program`; its action reports the exit status through `setStatus`. */
export function addFuzzCommand(program: Command, setStatus: SetStatus): void {
  program
    .command("fuzz")
    .description("run a program again and again against a hostile simulated VMware host; write each unique crash, hang or sanitizer report")
    .usage("[options] -- PROGRAM [ARGS...]")
    .option("--runs <n>", `stop after N runs (default ${1000} unless --time is given)`, intIn("--runs", 1, Number.MAX_SAFE_INTEGER))
    .option("--time <seconds>", "stop after this many seconds", intIn("--time", 1, 31_536_000))
    .option("--seed <n>", "seed of the campaign (default: random, printed at the end)", intIn("--seed", 0, 0xffffffff))
    .option("--jobs <n>", "parallel runs (default: the number of CPUs)", intIn("--jobs", 1, 256))
    .option(
      "--timeout-ms <ms>",
      "a run not finished after MS is killed and is a hang finding (default 10000)",
      intIn("--timeout-ms", 1, 86_400_000),
    )
    .option(
      "--max-rss <mib>",
      "a run whose peak RSS passes MiB is killed and is a finding (default 2048)",
      intIn("--max-rss", 1, 1_048_576),
    )
    .option("--findings <dir>", "where finding files go (default ./fuzz-findings)")
    .option("--corpus <dir>", "keep runs that reached something new here, and start from it (resumable)")
    .option("--guestinfo <key=value>", "set guestinfo.KEY (prefix optional; VALUE @FILE reads a file); repeatable", collect, [])
    .option("--profile <file>", "VM profile (JSON)")
    .option(
      "--tclo <cmd>",
      "queue a TCLO command at the start of every run; repeatable (commands that act on the machine are refused)",
      collect,
      [],
    )
    .option("--replay <file>", "give the answers of a finding again, exactly, and exit with the program's status")
    .option("--minimize <file>", "shrink a finding to the fewest mutated answers that reproduce it (writes FILE.min.json)")
    .argument("<program...>", "program and its arguments (after --)")
    .passThroughOptions()
    .action(async (prog: string[], opts: FuzzCliOptions) => {
      const { runFuzz } = await import("../fuzz-command.js");
      setStatus(await runFuzz(prog, opts));
    });
}
