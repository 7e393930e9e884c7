/**
 * The start-up trampoline: a 184-byte static x86-64 ELF, written once to the cache directory, that stops itself
 * (`kill(getpid(), SIGSTOP)`) and then `execve`s the program.
 *
 * Why not `sh -c 'kill -STOP $$; exec "$@"'` (tracer-notes §4.1): a dynamic trampoline maps libc with `mmap`
 * before it stops, and the seccomp policy makes executable file mmaps stop for the tracer (to patch `cpuid` in
 * dlopen'ed libraries); until PTRACE_SEIZE has happened there is no tracer, and the kernel fails such a call with
 * ENOSYS ("failed to map segment from shared object"), about once in 60 starts. A static trampoline makes no mmap
 * before its self-stop, so the race is gone.
 * Usage: `trampoline RESOLVED_PATH ARGV0 ARGS…` → `execve(RESOLVED_PATH, [ARGV0, ARGS…], envp)`; exit 127 if that
 * fails. PATH is searched by vmport before spawning.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { cacheDir } from "./cpuid-sites.js";
import { writeFileAtomic } from "../state-file.js";

/** Machine code, with the mnemonic of each instruction. */
const CODE = [
  0xb8, 0x27, 0x00, 0x00, 0x00, // mov eax, 39 (getpid)
  0x0f, 0x05, // syscall
  0x89, 0xc7, // mov edi, eax
  0xbe, 0x13, 0x00, 0x00, 0x00, // mov esi, 19 (SIGSTOP)
  0xb8, 0x3e, 0x00, 0x00, 0x00, // mov eax, 62 (kill)
  0x0f, 0x05, // syscall
  0x48, 0x8b, 0x0c, 0x24, // mov rcx, [rsp]          ; argc
  0x48, 0x8b, 0x7c, 0x24, 0x10, // mov rdi, [rsp+16]  ; argv[1] = resolved path
  0x48, 0x8d, 0x74, 0x24, 0x18, // lea rsi, [rsp+24]  ; &argv[2]
  0x48, 0x8d, 0x54, 0xcc, 0x10, // lea rdx, [rsp+rcx*8+16] ; envp
  0xb8, 0x3b, 0x00, 0x00, 0x00, // mov eax, 59 (execve)
  0x0f, 0x05, // syscall
  0xbf, 0x7f, 0x00, 0x00, 0x00, // mov edi, 127
  0xb8, 0x3c, 0x00, 0x00, 0x00, // mov eax, 60 (exit)
  0x0f, 0x05, // syscall
];

const BASE = 0x400000;
const EHDR = 64;
const PHDR = 56;

/** The ELF image. */
export function trampolineImage(): Uint8Array {
  const size = EHDR + PHDR + CODE.length;
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]); // ELF, 64-bit, little-endian, version 1, SysV
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, 0x3e, true); // x86-64
  dv.setUint32(20, 1, true);
  dv.setBigUint64(24, BigInt(BASE + EHDR + PHDR), true); // e_entry
  dv.setBigUint64(32, BigInt(EHDR), true); // e_phoff
  dv.setUint16(52, EHDR, true); // e_ehsize
  dv.setUint16(54, PHDR, true); // e_phentsize
  dv.setUint16(56, 1, true); // e_phnum
  const p = EHDR;
  dv.setUint32(p, 1, true); // PT_LOAD
  dv.setUint32(p + 4, 5, true); // R + X
  dv.setBigUint64(p + 16, BigInt(BASE), true); // p_vaddr
  dv.setBigUint64(p + 24, BigInt(BASE), true); // p_paddr
  dv.setBigUint64(p + 32, BigInt(size), true); // p_filesz
  dv.setBigUint64(p + 40, BigInt(size), true); // p_memsz
  dv.setBigUint64(p + 48, 0x1000n, true); // p_align
  b.set(CODE, EHDR + PHDR);
  return b;
}

/** Path of the trampoline, written on first use. */
export function trampolinePath(): string {
  const dir = join(cacheDir(), "..");
  const path = join(dir, "trampoline-v1");
  const image = trampolineImage();
  if (!existsSync(path) || statSync(path).size !== image.length || !Buffer.from(readFileSync(path)).equals(Buffer.from(image))) {
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(path, Buffer.from(image).toString("latin1"), "latin1");
  }
  chmodSync(path, 0o755);
  return path;
}

/** Resolve `prog` as execvp would: a name with a slash as is, else the first executable match in PATH. */
export function resolveProgram(prog: string, path = process.env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"): string | null {
  if (prog.includes("/")) return existsSync(prog) ? prog : null;
  for (const dir of path.split(delimiter)) {
    const p = join(dir === "" ? "." : dir, prog);
    try {
      const st = statSync(p);
      if (st.isFile() && st.mode & 0o111) return isAbsolute(p) ? p : join(process.cwd(), p);
    } catch {
      // next
    }
  }
  return null;
}
