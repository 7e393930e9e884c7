#!/usr/bin/env node
/**
 * The `vmport` command line.
 *
 * Commands: `decode` (what the decoder makes of a byte string), `step` (execute one instruction on a fresh VM),
 * `run` (a program against the simulated host), `fuzz` (the same, against a hostile host), `ctl` (drive a `run --control` socket), `guest`, `v86`, `compare`,
 * `demo`.
 * Every usage error is one `vmport:` line on stderr and exit status 2.
 */
// First: records how descriptors 0–2 were given, before anything (Node's libuv) changes their flags.
import "../host/stdio.js";
import { prestartTracerWorker } from "../host/tracer/worker-start.js";
import { Command, CommanderError, Option } from "commander";
import { CLI_MODES } from "../x86/cpu-mode.js";
import { EXIT_USAGE, reportError, usage } from "./errors.js";

// `vmport run`: the tracer thread loads its modules while this thread loads the command's (docs/performance.md).
// Each command's module is imported when it runs, so a command loads only what it needs.
/** Executed directly (not imported by tests). */
const direct = /(?:^|[\\/])(?:main\.(?:js|ts)|vmport)$/.test(process.argv[1] ?? "");
if (direct && process.argv[2] === "run") prestartTracerWorker();

const MODES = Object.keys(CLI_MODES);

function modeOption(): Option {
  return new Option("--mode <mode>", `CPU mode: ${MODES.join(", ")}`).choices(MODES).makeOptionMandatory();
}

function intIn(name: string, lo: number, hi: number) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < lo || Number(v) > hi) usage(`${name} "${v}": expected an integer ${lo}..${hi}`);
    return Number(v);
  };
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** Build the program (exported for tests). */
export function buildProgram(setStatus: (n: number) => void): Command {
  const program = new Command("vmport")
    .description("The host side of the VMware backdoor")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: () => {} })
    .showSuggestionAfterError(false)
    .enablePositionalOptions();

  program
    .command("decode")
    .description("decode IN/OUT/INS/OUTS/RDPMC; HEX like '66 ed', or '-' for one HEX per stdin line")
    .addOption(modeOption())
    .argument("<hex...>", "instruction bytes, or -")
    .action(async (hexParts: string[], opts: { mode: string }) => {
      const { runDecode } = await import("./decode-command.js");
      setStatus(await runDecode(CLI_MODES[opts.mode]!, hexParts.join(" ")));
    });

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
    .action(async (hexParts: string[], opts: { mode: string; cpl?: number; iopl: number; reg: string[]; mem: string[]; la57: boolean; l1InterceptsGp: boolean }) => {
      const { runStep } = await import("./step-command.js");
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
    });
  program
    .command("run")
    .description("run an unmodified Linux program against the simulated VMware host")
    .usage("[options] -- PROGRAM [ARGS...]")
    .option("--guestinfo <key=value>", "set guestinfo.KEY (prefix optional; VALUE @FILE reads a file); repeatable", collect, [])
    .option("--state <file>", "load durable state if present; save it atomically on change and at exit")
    .option("--profile <file>", "VM profile (JSON)")
    .option("--tclo <cmd>", "queue a host → guest TCLO command at start; repeatable", collect, [])
    .option("--trace <file>", "write one JSON line per backdoor access (file created mode 0600)")
    .option("--trace-limit <bytes>", "stop writing the trace after BYTES (then one record counts the dropped ones); default: no limit", intIn("--trace-limit", 1, Number.MAX_SAFE_INTEGER))
    .option("--pin <cpu>", "pin the tracer and the program to this CPU", intIn("--pin", 0, 4095))
    .option("--verbose", "report TCLO results and a summary on stderr", false)
    .option("--report <file>", "at exit, write what the host learnt (guest model, TCLO results, log, unknown RPCs) as JSON")
    .option("--control <path>", "serve a QMP control socket (mode 0600) at PATH while the program runs (vmport ctl PATH …)")
    .option("--console [port]", "serve the web console on 127.0.0.1:PORT (default: a free port); its URL, with a token, is printed first", intIn("--console", 0, 65535))
    .option("--allow-dangerous-tclo", "let the console send OS_Halt, OS_Reboot, Time_Synchronize, vmbackup.*, deployPkg.*, Vix_* (after a confirmation)", false)
    .argument("<program...>", "program and its arguments (after --)")
    .passThroughOptions()
    .action(async (prog: string[], opts: { guestinfo: string[]; state?: string; profile?: string; tclo: string[]; trace?: string; traceLimit?: number; pin?: number; verbose: boolean; report?: string; console?: number | true; allowDangerousTclo: boolean; control?: string }) => {
      const { runRun } = await import("./run-command.js");
      setStatus(await runRun(prog, opts));
    });
  program
    .command("fuzz")
    .description("run a program again and again against a hostile simulated VMware host; write each unique crash, hang or sanitizer report")
    .usage("[options] -- PROGRAM [ARGS...]")
    .option("--runs <n>", `stop after N runs (default ${1000} unless --time is given)`, intIn("--runs", 1, Number.MAX_SAFE_INTEGER))
    .option("--time <seconds>", "stop after this many seconds", intIn("--time", 1, 31_536_000))
    .option("--seed <n>", "seed of the campaign (default: random, printed at the end)", intIn("--seed", 0, 0xffffffff))
    .option("--jobs <n>", "parallel runs (default: the number of CPUs)", intIn("--jobs", 1, 256))
    .option("--timeout-ms <ms>", "a run not finished after MS is killed and is a hang finding (default 10000)", intIn("--timeout-ms", 1, 86_400_000))
    .option("--max-rss <mib>", "a run whose peak RSS passes MiB is killed and is a finding (default 2048)", intIn("--max-rss", 1, 1_048_576))
    .option("--findings <dir>", "where finding files go (default ./fuzz-findings)")
    .option("--corpus <dir>", "keep runs that reached something new here, and start from it (resumable)")
    .option("--guestinfo <key=value>", "set guestinfo.KEY (prefix optional; VALUE @FILE reads a file); repeatable", collect, [])
    .option("--profile <file>", "VM profile (JSON)")
    .option("--tclo <cmd>", "queue a TCLO command at the start of every run; repeatable (commands that act on the machine are refused)", collect, [])
    .option("--replay <file>", "give the answers of a finding again, exactly, and exit with the program's status")
    .option("--minimize <file>", "shrink a finding to the fewest mutated answers that reproduce it (writes FILE.min.json)")
    .argument("<program...>", "program and its arguments (after --)")
    .passThroughOptions()
    .action(async (prog: string[], opts: { runs?: number; time?: number; seed?: number; jobs?: number; timeoutMs?: number; maxRss?: number; findings?: string; corpus?: string; guestinfo: string[]; profile?: string; tclo: string[]; replay?: string; minimize?: string }) => {
      const { runFuzz } = await import("./fuzz-command.js");
      setStatus(await runFuzz(prog, opts));
    });
  program
    .command("ctl")
    .description("drive a running vmport run --control PATH: COMMAND [NAME=VALUE | NAME:=JSON ...], or watch [EVENT ...]")
    .usage("[--json] PATH COMMAND [NAME=VALUE | NAME:=JSON ...]  |  [--json] PATH watch [EVENT ...]")
    .option("--json", "print the return value (or each event) as JSON", false)
    .argument("<path>", "the control socket")
    .argument("<command>", "a command (query-guest, guestinfo-set, tclo-send, …) or watch")
    .argument("[args...]", "arguments: NAME=VALUE (a string) or NAME:=JSON; for watch, event names")
    .action(async (path: string, command: string, args: string[], opts: { json: boolean }) => {
      const { runCtl } = await import("./ctl-command.js"); // loaded only for ctl
      setStatus(await runCtl(path, command, args, opts));
    });
  program
    .command("guest")
    .description("inside a VMware guest (or under vmport run): check | info-get KEY | info-set KEY VALUE | rpc COMMAND")
    .argument("<command>", "check, info-get, info-set or rpc")
    .argument("[args...]", "arguments of the command")
    .option("-p", "check: print the product type (as vmware-checkvm -p)", false)
    .option("--lb", "use the low-bandwidth port only (no rep insb/outsb)", false)
    .action(async (cmd: string, args: string[], opts: { p: boolean; lb: boolean }) => {
      const { runGuest, runGuestDemo } = await import("./guest-command.js");
      setStatus(cmd === "demo-steps" ? runGuestDemo() : runGuest(cmd, args, { lb: opts.lb, product: opts.p }));
    });

  program
    .command("v86")
    .description("boot a Multiboot kernel in v86 with vmport attached; COM1 to stdout; exit via isa-debug-exit (port 0xf4)")
    .requiredOption("--multiboot <file>", "the kernel")
    .option("--bios <file>", "BIOS image", "/usr/share/seabios/bios.bin")
    .option("--profile <file>", "VM profile (JSON)")
    .option("--guestinfo <key=value>", "set guestinfo.KEY; repeatable", collect, [])
    .option("--timeout <s>", "give up after this many seconds (exit 124)", intIn("--timeout", 1, 3600), 60)
    .option("--builtin", "use v86's own VMware device instead of vmport (for comparisons)", false)
    .action(async (opts: { multiboot: string; bios: string; profile?: string; guestinfo: string[]; timeout: number; builtin: boolean }) => {
      const { runV86 } = await import("./v86-command.js");
      setStatus(await runV86(opts));
    });

  program
    .command("compare")
    .description("compare the test kernel's COM1 output under vmport with QEMU's, allowing only documented divergences")
    .argument("<ours>", "output under vmport (e.g. vmport v86)")
    .argument("<theirs>", "output under qemu-system-i386 -machine pc,vmport=on")
    .action(async (ours: string, theirs: string) => {
      const { runCompare } = await import("./compare-command.js");
      setStatus(runCompare(ours, theirs));
    });

  program
    .command("demo")
    .description("run a real guest against the simulated VMware host and show what both sides saw")
    .action(async () => {
      const { runDemo } = await import("./demo-command.js");
      setStatus(await runDemo());
    });
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
