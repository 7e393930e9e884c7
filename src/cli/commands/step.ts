/**
 * `vmport step`: execute one instruction at RIP on a fresh default VM, as CPU and hypervisor would.
 *
 * Emulates: nothing; the command's options and usage. The work is in
 * `src/cli/step-command.ts`, imported only when the command runs, so defining every command costs only commander.
 * Source of truth: `VirtualMachine.step`, `docs/architecture.md` "`vmport step`".
 * Does not: validate beyond what commander and the option parsers do; the command module checks the rest.
 */
import type { Command } from "commander";
import { CLI_MODES } from "../../x86/cpu-mode.js";
import { collect, intIn, modeOption, type SetStatus } from "../options.js";

/** Define `vmport step` on `program`; its action reports the exit status through `setStatus`. */
export function addStepCommand(program: Command, setStatus: SetStatus): void {
  program
    .command("step")
    .description("execute one instruction at RIP on a fresh default VM, as CPU + hypervisor would")
    .addOption(modeOption())
    .option("--cpl <n>", "current privilege level (default 0 in real mode, else 3)", intIn("--cpl", 0, 3))
    .option("--iopl <n>", "RFLAGS.IOPL", intIn("--iopl", 0, 3), 0)
    .option("--reg <name=hex>", "set a register (rax rbx rcx rdx rsi rdi rbp rsp rip rflags); repeatable", collect, [])
    .option("--mem <addr=hex>", "make these bytes present at a linear address; repeatable", collect, [])
    .option("--la57", "5-level paging: 57-bit canonical addresses in 64-bit mode (default 48-bit)", false)
    .option("--l1-intercepts-gp", "the guest is an L2 guest whose L1 hypervisor intercepts #GP: every #GP exits to L1", false)
    .argument("<hex...>", "instruction bytes at RIP")
    .action(
      async (
        hexParts: string[],
        opts: { mode: string; cpl?: number; iopl: number; reg: string[]; mem: string[]; la57: boolean; l1InterceptsGp: boolean },
      ) => {
        const { runStep } = await import("../step-command.js");
        setStatus(
          runStep(hexParts.join(" "), {
            mode: CLI_MODES[opts.mode]!,
            ...(opts.cpl !== undefined ? { cpl: opts.cpl } : {}),
            iopl: opts.iopl,
            regs: opts.reg,
            mem: opts.mem,
            la57: opts.la57,
            l1InterceptsGp: opts.l1InterceptsGp,
          }),
        );
      },
    );
}
