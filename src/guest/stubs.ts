/**
 * Machine-code stubs that execute the real backdoor instructions from Node: `in eax,dx`, `out dx,eax`,
 * `rep outsb`, `rep insb`, each with all seven argument registers loaded from and stored back to a register block.
 *
 * Emulates: nothing; this is the guest side (what open-vm-tools' `backdoorGcc64.c` does). On a VMware host (or
 * under `vmport run`) the hypervisor answers; elsewhere the instruction raises #GP and the process dies of
 * SIGSEGV — callers must probe first (`backdoor.ts`).
 * Does not: run anywhere but x86-64 (Linux or another SysV-ABI system with koffi): other platforms get
 * VMPORT_GUEST_UNSUPPORTED.
 */
import koffi from "koffi";
import { VmportError } from "../core/errors.js";
import { anonymousFunction, type NativeFn } from "../host/native-code.js";

/** Argument registers in block order. */
export const BLOCK_REGS = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp"] as const;

// biome-ignore format: byte fixture, one instruction or field per line with its mnemonic beside it
const LOAD = [
  0x53, // push rbx
  0x55, // push rbp
  0x49, 0x89, 0xfb, // mov r11, rdi        ; the block
  0x49, 0x8b, 0x03, // mov rax, [r11]
  0x49, 0x8b, 0x5b, 0x08, // mov rbx, [r11+8]
  0x49, 0x8b, 0x4b, 0x10, // mov rcx, [r11+16]
  0x49, 0x8b, 0x53, 0x18, // mov rdx, [r11+24]
  0x49, 0x8b, 0x73, 0x20, // mov rsi, [r11+32]
  0x49, 0x8b, 0x7b, 0x28, // mov rdi, [r11+40]
  0x49, 0x8b, 0x6b, 0x30, // mov rbp, [r11+48]
  0xfc, // cld
];
// biome-ignore format: byte fixture, one instruction or field per line with its mnemonic beside it
const STORE = [
  0x49, 0x89, 0x03, // mov [r11], rax
  0x49, 0x89, 0x5b, 0x08, // mov [r11+8], rbx
  0x49, 0x89, 0x4b, 0x10, // mov [r11+16], rcx
  0x49, 0x89, 0x53, 0x18, // mov [r11+24], rdx
  0x49, 0x89, 0x73, 0x20, // mov [r11+32], rsi
  0x49, 0x89, 0x7b, 0x28, // mov [r11+40], rdi
  0x49, 0x89, 0x6b, 0x30, // mov [r11+48], rbp
  0x5d, // pop rbp
  0x5b, // pop rbx
  0xc3, // ret
];
const INSNS = {
  in: [0xed], // in eax, dx
  out: [0xef], // out dx, eax
  outsb: [0xf3, 0x6e], // rep outsb
  insb: [0xf3, 0x6c], // rep insb
} as const;

/** Which instruction a stub executes. */
export type StubKind = keyof typeof INSNS;

/** Native memory the stubs use: the register block and a bounce buffer for HB transfers. */
export interface Native {
  /** Seven u64 registers (low/high u32 halves). */
  block: Uint32Array;
  /** koffi pointer to {@link Native.block}, passed to the stubs. */
  blockPtr: unknown;
  /** HB buffer (64 KiB) and its address. */
  buf: Uint8Array;
  /** Native address of {@link Native.buf}, loaded into RSI/RDI for HB strings. */
  bufAddress: bigint;
  /** Run stub `kind` on the register block (registers in, registers out). */
  call(kind: StubKind): void;
}

let native: Native | null = null;

/** The stubs (created on first use). */
export function stubs(): Native {
  if (native) return native;
  if (process.arch !== "x64") {
    throw new VmportError("VMPORT_GUEST_UNSUPPORTED", `the guest library executes x86-64 backdoor instructions; this is ${process.arch}`);
  }
  const fns: Record<string, NativeFn> = {};
  for (const [k, insn] of Object.entries(INSNS)) fns[k] = anonymousFunction([...LOAD, ...insn, ...STORE]);
  const blockPtr = koffi.alloc("uint64_t", 7);
  const bufPtr = koffi.alloc("uint8_t", 65536);
  native = {
    block: new Uint32Array(koffi.view(blockPtr, 56)),
    blockPtr,
    buf: new Uint8Array(koffi.view(bufPtr, 65536)),
    bufAddress: koffi.address(bufPtr) as bigint,
    call: (kind) => fns[kind]!(blockPtr),
  };
  return native;
}
