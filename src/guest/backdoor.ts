/**
 * Guest-side backdoor calls from Node, and detection that never crashes the caller.
 *
 * Emulates: open-vm-tools' `Backdoor_InOut` / `BackdoorHb*` and `VmCheck_IsVirtualWorld` for Node programs.
 * `detect()` reads the hypervisor signature (CPUID leaf 0x40000000, from a file-backed stub that `vmport run`
 * virtualises) and then always runs GETVERSION in a *child process* (`child-probe.ts`): a "VMwareVMware" signature
 * does not prove the backdoor answers (a VM may restrict it, `vmport run` may run a profile with `backdoor: false`),
 * and an `in` that faults would kill the caller with SIGSEGV — open-vm-tools catches that signal, Node cannot. So
 * on any host that does not answer, the child dies and `detect()` returns `backdoor: false`.
 * Source of truth: `docs/protocol.md` §1 (detection), §2, §3, §4 (HB); `docs/clients.md#open-vm-tools` (the gate).
 * Does not: use vmcall/vmmcall; call a backdoor function in this process before `detect()` said yes.
 */
import { CPUID_CODE, anonymousFunction, fileFunction, type NativeFn } from "../host/native-code.js";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cacheRoot } from "../host/cache-dir.js";
import { writeFileAtomic } from "../host/state-file.js";
import { VmportError } from "../core/errors.js";
import { BDOOR_MAGIC, BDOOR_PORT, BDOORHB_PORT, BdoorCmd } from "../devices/backdoor/constants.js";
import type { Regs32 } from "../channels/message-client.js";
import { stubs, type StubKind } from "./stubs.js";
import { backdoorAnswered, probeInChild } from "./child-probe.js";

export { BDOOR_MAGIC };
/** LB and HB ports. */
export const LB_PORT = BDOOR_PORT;
/** The high-bandwidth port, 0x5659 (`BDOORHB_PORT`). */
export const HB_PORT = BDOORHB_PORT;

/** The seven argument registers' low 32 bits (what the protocol uses; upper halves are written as 0). */
export type Regs = Regs32;

const ORDER = ["eax", "ebx", "ecx", "edx", "esi", "edi", "ebp"] as const;

/**
 * Execute one backdoor instruction with `r` (missing registers are 0, EAX defaults to the magic) and return the
 * registers after. For `outsb`/`insb` pass `buffer: true` to point RSI/RDI at the native HB buffer.
 */
export function call(kind: StubKind, r: Partial<Regs>, opts: { buffer?: boolean } = {}): Regs {
  const n = stubs();
  const b = n.block;
  b.fill(0);
  const v = { eax: BDOOR_MAGIC, ...r };
  for (let i = 0; i < ORDER.length; i++) b[i * 2] = (v[ORDER[i]!] ?? 0) >>> 0;
  if (opts.buffer) {
    const idx = kind === "outsb" ? 4 : 5; // RSI for outs, RDI for ins
    b[idx * 2] = Number(n.bufAddress & 0xffffffffn);
    b[idx * 2 + 1] = Number(n.bufAddress >> 32n);
  }
  n.call(kind);
  const out = {} as Regs;
  for (let i = 0; i < ORDER.length; i++) out[ORDER[i]!] = b[i * 2]!;
  return out;
}

/** What `detect()` found. */
export interface Detection {
  /** CPUID leaf 0x40000000 signature, or "" when the hypervisor bit is clear. */
  hypervisor: string;
  /** GETVERSION answered with the magic in EBX. */
  backdoor: boolean;
  /** GETVERSION EAX (6 on VMware), or null. */
  version: number | null;
  /** GETVERSION ECX product type (2 = ESX Server, 4 = Workstation), or null. */
  productType: number | null;
}

let cpuidFn: NativeFn | null = null;

/**
 * A tiny ELF file holding the CPUID stub at file offset 4096, with a section header that marks it as code. It is
 * mapped from the file (not anonymous memory) so that `vmport run`'s CPUID virtualisation, which patches `cpuid`
 * in executable *file* mappings, covers it too — then a guest under vmport sees "VMwareVMware" here, as on VMware.
 */
function stubFile(): Uint8Array {
  const CODE_OFF = 4096;
  const SHOFF = CODE_OFF + 64;
  const b = new Uint8Array(SHOFF + 2 * 64);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);
  dv.setUint16(16, 3, true); // ET_DYN
  dv.setUint16(18, 0x3e, true);
  dv.setUint32(20, 1, true);
  dv.setBigUint64(40, BigInt(SHOFF), true); // e_shoff
  dv.setUint16(52, 64, true); // e_ehsize
  dv.setUint16(58, 64, true); // e_shentsize
  dv.setUint16(60, 2, true); // e_shnum
  b.set(CPUID_CODE, CODE_OFF);
  const sh = SHOFF + 64; // section 1: the code
  dv.setUint32(sh + 4, 1, true); // SHT_PROGBITS
  dv.setBigUint64(sh + 8, 6n, true); // SHF_ALLOC | SHF_EXECINSTR
  dv.setBigUint64(sh + 16, BigInt(CODE_OFF), true); // sh_addr
  dv.setBigUint64(sh + 24, BigInt(CODE_OFF), true); // sh_offset
  dv.setBigUint64(sh + 32, BigInt(CPUID_CODE.length), true); // sh_size
  return b;
}

function loadCpuid(): NativeFn {
  try {
    const dir = cacheRoot();
    const path = join(dir, "guest-cpuid-v1.elf");
    const image = stubFile();
    if (!existsSync(path) || !Buffer.from(readFileSync(path)).equals(Buffer.from(image))) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileAtomic(path, image, { mode: 0o644 });
    }
    const fd = openSync(path, "r");
    try {
      const f = fileFunction(fd, 4096);
      if (f !== null) return f;
    } finally {
      closeSync(fd);
    }
  } catch {
    // fall back to anonymous memory below
  }
  return anonymousFunction(CPUID_CODE);
}

/** CPUID leaf 0x40000000's signature, or "" when CPUID.1:ECX[31] is clear. */
export function hypervisorSignature(): string {
  if (process.arch !== "x64") return "";
  cpuidFn ??= loadCpuid();
  const io = new Uint32Array([1, 0, 0, 0]);
  cpuidFn(io);
  if (!(io[2]! & 0x80000000)) return "";
  io.set([0x40000000, 0, 0, 0]);
  cpuidFn(io);
  const bytes = new Uint8Array(new Uint32Array([io[1]!, io[2]!, io[3]!]).buffer);
  return String.fromCharCode(...bytes).replace(/\0+$/, "");
}

/** GETVERSION in this process. Only call it when the backdoor is known to be there. */
export function getVersionHere(): { version: number; magic: number; productType: number } {
  const r = call("in", { ebx: ~BDOOR_MAGIC >>> 0, ecx: BdoorCmd.GETVERSION, edx: LB_PORT });
  return { version: r.eax, magic: r.ebx, productType: r.ecx };
}

/**
 * Detect the backdoor without ever crashing the caller: the CPUID signature here (CPUID cannot fault), GETVERSION in
 * a child process (a few milliseconds), whatever the host answers or fails to answer.
 */
export function detect(): Detection {
  if (process.arch !== "x64" || process.platform !== "linux") {
    return { hypervisor: "", backdoor: false, version: null, productType: null };
  }
  const hypervisor = hypervisorSignature();
  const a = probeInChild();
  if (!backdoorAnswered(a)) return { hypervisor, backdoor: false, version: null, productType: null };
  return { hypervisor, backdoor: true, version: a.version, productType: a.productType };
}

/** Throw VMPORT_GUEST_NOT_VMWARE unless `detect()` found the backdoor. */
export function requireBackdoor(): Detection {
  const d = detect();
  if (!d.backdoor) throw new VmportError("VMPORT_GUEST_NOT_VMWARE", "no VMware backdoor here (GETVERSION did not answer)");
  return d;
}
