/** Test helpers: a vCPU with code at RIP in paged memory, register literals, a fixed clock. Not shipped. */
import { VirtualClock } from "../core/clock.js";
import { CpuMode } from "../x86/cpu-mode.js";
import { CpuState, type CpuStateInit } from "../x86/cpu-state.js";
import { PagedMemory } from "../x86/guest-memory.js";
import { BACKDOOR_REGISTER_NAMES, Reg, RegisterFile } from "../x86/registers.js";
import { VirtualMachine } from "../vm/virtual-machine.js";
import type { VmProfileInput } from "../devices/profile.js";
import { BDOOR_MAGIC } from "../devices/backdoor/constants.js";

/** Bytes from a hex string like "66 ed". */
export function bytes(hex: string): Uint8Array {
  const t = hex.replace(/\s+/g, "");
  return Uint8Array.from(t.match(/../g) ?? [], (h) => parseInt(h, 16));
}

/** Register values by name (bigint for 64-bit literals). */
export type RegInit = Partial<Record<"rax" | "rbx" | "rcx" | "rdx" | "rsi" | "rdi" | "rbp" | "rsp" | "rip" | "rflags", bigint>>;

const NAMES = BACKDOOR_REGISTER_NAMES;

/** A register file from literals; RIP defaults to 0x1000 and RFLAGS to 0x2. */
export function regsOf(init: RegInit): RegisterFile {
  const r = new RegisterFile();
  r.set64(Reg.RIP, 0x1000n);
  r.set64(Reg.RFLAGS, 2n);
  for (const [k, v] of Object.entries(init)) r.set64(NAMES[k]!, v as bigint);
  return r;
}

/** Read registers back by name. */
export function regValue(r: RegisterFile, name: keyof RegInit): bigint {
  return r.get64(NAMES[name]!);
}

/** A vCPU (default 64-bit, CPL 3) with `code` mapped at its RIP. */
export function setup(code: string | Uint8Array, init: RegInit = {}, cpuInit: CpuStateInit = {}) {
  const cpu = new CpuState({ mode: CpuMode.LONG64, ...cpuInit, regs: regsOf(init) });
  const mem = new PagedMemory();
  mem.load(cpu.linearIp(), typeof code === "string" ? bytes(code) : code);
  return { cpu, mem };
}

/** A VM on a virtual clock. */
export function vmWith(profile: VmProfileInput = {}, clock = new VirtualClock()): VirtualMachine {
  return new VirtualMachine({ profile, clock });
}

/** The magic as a bigint. */
export const MAGIC = BigInt(BDOOR_MAGIC);
