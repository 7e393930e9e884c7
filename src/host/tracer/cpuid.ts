/**
 * CPUID virtualisation for traced programs: the real CPUID, run on this CPU by a tiny JIT stub, plus what a
 * VMware host reports — the hypervisor bit, "VMwareVMware", and leaf 0x40000010 with ECX = 0 so clients use the
 * I/O port rather than vmcall/vmmcall.
 *
 * Emulates: CPUID inside a VMware VM. Source of truth: `protocol.md` §1.5, `real-clients.md` §9 (leaf values,
 * why ECX must be 0), open-vm-tools `lib/misc/hostinfoHV.c`.
 * Does not: hide the host's own hypervisor leaves beyond 0x40000000–0x400000FF, or change any other leaf.
 */
import koffi from "koffi";
import type { VmProfile } from "../../devices/profile.js";

let stub: ((io: Uint32Array) => void) | null = null;

/** Machine code of `void cpuid(uint32_t io[4])`: in EAX = io[0], ECX = io[2]; out io[0..3] = EAX, EBX, ECX, EDX. */
const CODE = [
  0x53, // push rbx
  0x49, 0x89, 0xf8, // mov r8, rdi
  0x41, 0x8b, 0x00, // mov eax, [r8]
  0x41, 0x8b, 0x48, 0x08, // mov ecx, [r8+8]
  0x0f, 0xa2, // cpuid
  0x41, 0x89, 0x00, // mov [r8], eax
  0x41, 0x89, 0x58, 0x04, // mov [r8+4], ebx
  0x41, 0x89, 0x48, 0x08, // mov [r8+8], ecx
  0x41, 0x89, 0x50, 0x0c, // mov [r8+12], edx
  0x5b, // pop rbx
  0xc3, // ret
];

/** Run the real CPUID instruction. */
export function realCpuid(leaf: number, subleaf: number): [number, number, number, number] {
  if (stub === null) {
    const libc = koffi.load("libc.so.6");
    const mmap = libc.func("void* mmap(void* addr, size_t len, int prot, int flags, int fd, long off)");
    const mprotect = libc.func("int mprotect(void* addr, size_t len, int prot)");
    const p = mmap(null, 4096, 3 /* RW */, 0x22 /* PRIVATE|ANONYMOUS */, -1, 0);
    new Uint8Array(koffi.view(p, 4096)).set(CODE);
    if (mprotect(p, 4096, 5 /* RX */) !== 0) throw new Error("cannot make the CPUID stub executable");
    stub = koffi.decode(p, koffi.proto("void vmport_cpuid(_Inout_ uint32_t* io)")) as (io: Uint32Array) => void;
  }
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
