/**
 * GETVERSION in a child process, so that a host without the backdoor — or one that faults it for any reason —
 * kills the child with SIGSEGV, never the caller.
 *
 * Emulates: what open-vm-tools' `VmCheckSafe` does around its first backdoor call (catch the fault), for Node,
 * where a SIGSEGV raised by an instruction cannot be caught. The child is a tiny static x86-64 ELF built here
 * (about 200 bytes: GETVERSION, write EAX/EBX/ECX to stdout, exit) and executed from an anonymous memory file
 * (`memfd_create`, then `/proc/self/fd/3`), so nothing is written to disk and a probe costs milliseconds, also
 * under `vmport run` (which traces the child like any other). Where that cannot run (no `memfd_create`, an
 * executable memfd refused by `vm.memfd_noexec`), the child is `node probe.js` instead (≈ 100 × slower).
 * Source of truth: `docs/protocol.md` §3 (GETVERSION: EAX = version, EBX = magic, ECX = product type); Linux
 * `memfd_create(2)` (`MFD_EXEC`, `MFD_CLOEXEC`), `execve(2)`; ELF-64 (`e_entry`, one `PT_LOAD`).
 * Does not: run off Linux x86-64 (callers check), or retry a probe that timed out.
 */
import { spawnSync } from "node:child_process";
import { closeSync, writeSync } from "node:fs";
import { fileURLToPath } from "node:url";
import koffi from "koffi";
import { BDOOR_MAGIC, BDOOR_PORT, BdoorCmd } from "../devices/backdoor/constants.js";
import { imm32, staticImage } from "../host/static-elf.js";

/** What GETVERSION answered in the child, or why there is no answer. */
export interface ProbeAnswer {
  /** The child finished and reported the registers. */
  answered: boolean;
  /** EAX: the version (6 on VMware). */
  version: number;
  /** EBX: the magic 0x564D5868 when the backdoor exists. */
  magic: number;
  /** ECX: the product type (`VMX_Type`: 2 ESX Server, 4 Workstation, …). */
  productType: number;
  /** Which child ran: the native ELF, or Node (fallback). */
  via: "native" | "node";
  /** The signal that ended the child (SIGSEGV without a backdoor), or null. */
  signal: string | null;
}

/** Longest a probe may take before it counts as "no backdoor". */
export const PROBE_TIMEOUT_MS = { native: 10_000, node: 30_000 } as const;

/** The probe's code: GETVERSION, then write(1, {eax, ebx, ecx}, 12) and exit(0); no libc, no stack frame. */
// biome-ignore format: byte fixture, one instruction or field per line with its mnemonic beside it
const CODE: readonly number[] = [
  0xb8, ...imm32(BDOOR_MAGIC), // mov eax, 0x564d5868      ; magic
  0xbb, ...imm32(~BDOOR_MAGIC), // mov ebx, ~magic          ; anything but the magic
  0xb9, ...imm32(BdoorCmd.GETVERSION), // mov ecx, 10       ; GETVERSION
  0xba, ...imm32(BDOOR_PORT), // mov edx, 0x5658            ; the LB port
  0xed, // in eax, dx                                       ; #GP → SIGSEGV without a backdoor
  0x48, 0x83, 0xec, 0x10, // sub rsp, 16
  0x89, 0x04, 0x24, // mov [rsp], eax
  0x89, 0x5c, 0x24, 0x04, // mov [rsp+4], ebx
  0x89, 0x4c, 0x24, 0x08, // mov [rsp+8], ecx
  0xb8, 0x01, 0x00, 0x00, 0x00, // mov eax, 1               ; write
  0xbf, 0x01, 0x00, 0x00, 0x00, // mov edi, 1               ; stdout
  0x48, 0x89, 0xe6, // mov rsi, rsp
  0xba, 0x0c, 0x00, 0x00, 0x00, // mov edx, 12
  0x0f, 0x05, // syscall
  0xb8, 0x3c, 0x00, 0x00, 0x00, // mov eax, 60              ; exit
  0x31, 0xff, // xor edi, edi
  0x0f, 0x05, // syscall
];

/** The probe as a static ELF-64 executable (`host/static-elf.ts`): one read+execute segment holding the code. */
export function probeExecutable(): Uint8Array {
  return staticImage(() => [...CODE], new Uint8Array(0)).image;
}

type MemfdCreate = (name: string, flags: number) => number;
let memfdCreate: MemfdCreate | null | undefined;

/** An anonymous file holding the probe, or -1. */
function probeFd(): number {
  if (memfdCreate === undefined) {
    try {
      memfdCreate = koffi.load("libc.so.6").func("int memfd_create(const char* name, unsigned int flags)") as MemfdCreate;
    } catch {
      memfdCreate = null;
    }
  }
  if (memfdCreate === null) return -1;
  const MFD_CLOEXEC = 0x1;
  const MFD_EXEC = 0x10; // Linux ≥ 6.3: ask for an executable memfd whatever vm.memfd_noexec defaults to
  let fd = memfdCreate("vmport-probe", MFD_CLOEXEC | MFD_EXEC);
  if (fd < 0) fd = memfdCreate("vmport-probe", MFD_CLOEXEC); // older kernels refuse the unknown flag
  if (fd < 0) return -1;
  try {
    const img = probeExecutable();
    if (writeSync(fd, img) !== img.length) throw new Error("short write");
  } catch {
    closeSync(fd);
    return -1;
  }
  return fd;
}

function answer(
  via: "native" | "node",
  r: { status: number | null; signal: NodeJS.Signals | null; stdout: Buffer | string },
  parse: (out: Buffer | string) => [number, number, number] | null,
): ProbeAnswer {
  const regs = r.status === 0 ? parse(r.stdout) : null;
  if (regs === null) return { answered: false, version: 0, magic: 0, productType: 0, via, signal: r.signal };
  return { answered: true, version: regs[0], magic: regs[1], productType: regs[2], via, signal: null };
}

/**
 * Run GETVERSION in a child and report what it answered. `kind` "native" (the default) falls back to "node" when
 * the native child cannot be started at all; a child that was started and died is an answer, not a fallback.
 * Never throws for anything the host does.
 */
export function probeInChild(kind: "native" | "node" = "native"): ProbeAnswer {
  if (kind === "native") {
    const fd = probeFd();
    if (fd >= 0) {
      try {
        const r = spawnSync("/proc/self/fd/3", [], { stdio: ["ignore", "pipe", "ignore", fd], timeout: PROBE_TIMEOUT_MS.native });
        if (r.error === undefined || (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT") {
          return answer("native", r, (out) => {
            const b = Buffer.isBuffer(out) ? out : Buffer.from(out);
            return b.length === 12 ? [b.readUInt32LE(0), b.readUInt32LE(4), b.readUInt32LE(8)] : null;
          });
        }
      } finally {
        closeSync(fd);
      }
    }
  }
  const here = fileURLToPath(import.meta.url);
  const ext = here.endsWith(".ts") ? ".ts" : ".js";
  const probe = fileURLToPath(new URL(`./probe${ext}`, import.meta.url));
  const args = ext === ".ts" ? ["--import", "tsx", probe] : [probe];
  const r = spawnSync(process.execPath, args, { encoding: "utf8", timeout: PROBE_TIMEOUT_MS.node, stdio: ["ignore", "pipe", "ignore"] });
  return answer("node", r, (out) => {
    const m = /^version=(\d+) magic=(\d+) type=(\d+)$/m.exec(String(out));
    return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
  });
}

/** True when `a` is the answer of a host with the backdoor (EBX = the magic). */
export function backdoorAnswered(a: ProbeAnswer): boolean {
  return a.answered && a.magic === BDOOR_MAGIC;
}
