/**
 * `vmport step`: execute one instruction at RIP on a fresh default VM, as CPU + hypervisor would.
 *
 * Allowed accesses go straight to the port bus; denied ones raise #GP and take the backdoor intercept, which
 * emulates them (0x5658/0x5659) or reflects the #GP. Memory holds exactly the HEX bytes at RIP (and any `--mem`
 * ranges): every other byte is not present, so a fetch or string access there raises #PF.
 * Output: `{"outcome":"completed"|"partial"|"fault"|"nested-exit","fault":null|"GP"|"UD"|"PF","regs":{…}}` with
 * 64-bit registers as 16 hex digits. With `--l1-intercepts-gp` the guest is an L2 guest whose L1 hypervisor
 * intercepts #GP: every #GP it raises is a "nested-exit" with registers and RIP unchanged (`vm/nested.ts`). "partial" appears only for a REP string longer than one chunk (2 MiB + 4 KiB) or one that
 * crosses a 4 GiB boundary. Every address — RIP, `--mem`, RSI/RDI — is exact over the whole 64-bit range.
 */
import { hex, parseHexBytes } from "../core/bits.js";
import { lookupOwn } from "../core/own-keys.js";
import { CpuMode } from "../x86/cpu-mode.js";
import { CpuState } from "../x86/cpu-state.js";
import { RangeMemory } from "../x86/guest-memory.js";
import { BACKDOOR_REGISTER_NAMES, Flags, Reg, RegisterFile } from "../x86/registers.js";
import { OUTCOME_NAMES, Outcome, faultName } from "../vm/exit-result.js";
import { VirtualMachine } from "../vm/virtual-machine.js";
import { L1_INTERCEPTS_GP } from "../vm/nested.js";
import { SystemClock } from "../host/system-clock.js";
import { usage } from "./errors.js";

/** Register names `--reg` accepts and the output lists, in output order. */
export const STEP_REGISTERS = BACKDOOR_REGISTER_NAMES;

/** Default RIP. */
export const DEFAULT_RIP = 0x1000n;

/** Parsed options of `vmport step`. */
export interface StepOptions {
  /** The CPU mode the bytes execute in. */
  mode: CpuMode;
  /** Current privilege level 0–3 (default 0 in real mode, else 3). */
  cpl?: number;
  /** RFLAGS.IOPL, 0–3. */
  iopl: number;
  /** `NAME=HEX` register settings (`rax` … `rflags`), in order. */
  regs: string[];
  /** `ADDR=HEX` byte strings present at linear addresses; every other byte is unmapped. */
  mem: string[];
  /** CR4.LA57: 57-bit canonical addresses in 64-bit mode (default false: 48-bit). */
  la57?: boolean;
  /** The guest is an L2 guest whose L1 hypervisor intercepts #GP (default false: not nested). */
  l1InterceptsGp?: boolean;
}

function parseU64(text: string, what: string): bigint {
  const t = text.trim().replace(/^0x/i, "").replace(/_/g, "");
  if (!/^[0-9a-fA-F]{1,16}$/.test(t)) usage(`${what}: "${text}" is not a hex number of at most 64 bits`);
  return BigInt("0x" + t);
}

/** Run `vmport step`; prints one JSON line. */
export function runStep(hexText: string, o: StepOptions): number {
  process.stdout.write(JSON.stringify(stepJson(hexText, o)) + "\n");
  return 0;
}

/**
 * What `vmport step` prints, as an object.
 * @throws VmportError VMPORT_BAD_ARGUMENT for bad arguments (the CLI's `vmport:` line).
 */
export function stepJson(hexText: string, o: StepOptions): Record<string, unknown> {
  const bytes = parseHexBytes(hexText);
  if (bytes === null) usage(`HEX "${hexText}" is not a string of hex byte pairs (like "66 ed" or "66ed")`);
  const defaultCpl = o.mode === CpuMode.REAL ? 0 : 3;
  const cpl = o.cpl ?? defaultCpl;
  if (o.mode === CpuMode.REAL && cpl !== 0) usage(`--cpl ${cpl}: real mode always runs at CPL 0`);
  if (o.mode === CpuMode.VM86 && cpl !== 3) usage(`--cpl ${cpl}: virtual-8086 mode always runs at CPL 3`);
  const regs = new RegisterFile();
  regs.set64(Reg.RIP, DEFAULT_RIP);
  regs.set64(Reg.RFLAGS, BigInt(Flags.RESERVED1 | (o.iopl << Flags.IOPL_SHIFT)));
  for (const spec of o.regs) {
    const eq = spec.indexOf("=");
    if (eq < 0) usage(`--reg "${spec}": expected NAME=HEX with NAME one of ${Object.keys(STEP_REGISTERS).join(" ")}`);
    const name = spec.slice(0, eq).toLowerCase();
    const r = lookupOwn(STEP_REGISTERS, name); // own keys only: "__proto__", "constructor"… are not registers
    if (r === undefined) usage(`--reg "${spec}": unknown register "${name}" (known: ${Object.keys(STEP_REGISTERS).join(" ")})`);
    regs.set64(r, parseU64(spec.slice(eq + 1), `--reg ${name}`));
  }
  const cpu = new CpuState({ mode: o.mode, cpl, regs, la57: o.la57 ?? false });
  const mem = new RangeMemory();
  mem.add(cpu.linearIp(), bytes);
  for (const spec of o.mem) {
    const eq = spec.indexOf("=");
    if (eq < 0) usage(`--mem "${spec}": expected ADDR=HEX`);
    const addr = parseU64(spec.slice(0, eq), "--mem address");
    const data = parseHexBytes(spec.slice(eq + 1));
    if (data === null) usage(`--mem "${spec}": the data is not hex byte pairs`);
    mem.add(addr, data); // anywhere in the 64-bit range; a range past 2^64 wraps to 0 as linear addresses do
  }
  const vm = new VirtualMachine({ clock: new SystemClock(), nested: o.l1InterceptsGp ? { exceptionBitmap: L1_INTERCEPTS_GP } : null });
  const res = vm.step(cpu, mem);
  if (res.outcome === Outcome.UNSUPPORTED) usage(`"${hexText}" is not IN/OUT/INS/OUTS/RDPMC; step executes only those`);
  const out: Record<string, string> = {};
  for (const [name, r] of Object.entries(STEP_REGISTERS)) out[name] = hex(cpu.regs.get64(r), 16);
  const json: Record<string, unknown> = {
    outcome: OUTCOME_NAMES[res.outcome],
    fault: faultName(res.fault),
  };
  if (res.outcome === Outcome.FAULT && res.faultAddress !== null) json["faultAddress"] = hex(res.faultAddress, 16);
  json["regs"] = out;
  return json;
}
