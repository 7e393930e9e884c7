/**
 * CPUID virtualisation for traced programs: the real CPUID, run on this CPU by a tiny JIT stub, plus what a
 * VMware host reports — the hypervisor bit, "VMwareVMware", and leaf 0x40000010 with ECX = 0 so clients use the
 * I/O port rather than vmcall/vmmcall.
 *
 * Emulates: CPUID inside a VMware VM. Source of truth: `docs/protocol.md` §10 (leaf values,
 * why ECX must be 0), `docs/tracer.md` §6, open-vm-tools `lib/misc/hostinfoHV.c`.
 * Does not: hide the host's own hypervisor leaves beyond 0x40000000–0x400000FF, or change any other leaf.
 */
import { CPUID_CODE, anonymousFunction, type NativeFn } from "../native-code.js";
import type { VmProfile } from "../../devices/profile.js";

let stub: NativeFn | null = null;

/** Run the real CPUID instruction. */
export function realCpuid(leaf: number, subleaf: number): [number, number, number, number] {
  stub ??= anonymousFunction(CPUID_CODE);
  const io = new Uint32Array([leaf >>> 0, 0, subleaf >>> 0, 0]);
  stub(io);
  return [io[0]!, io[1]!, io[2]!, io[3]!];
}

const sig = (s: string): number => s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24);

/** CPUID as a VMware guest sees it. */
export function vmwareCpuid(leaf: number, subleaf: number, profile: VmProfile): [number, number, number, number] {
  leaf >>>= 0;
  if (leaf === 0x40000000) return [0x40000010, sig("VMwa") >>> 0, sig("reVM") >>> 0, sig("ware") >>> 0];
  if (leaf === 0x40000010) return [Math.floor(profile.tscHz / 1000) >>> 0, Math.floor(profile.apicBusHz / 1000) >>> 0, 0, 0];
  if (leaf > 0x40000000 && leaf <= 0x400000ff) return [0, 0, 0, 0];
  const r = realCpuid(leaf, subleaf);
  if (leaf === 1) r[2] = (r[2] | 0x80000000) >>> 0; // hypervisor present
  return r;
}
