/**
 * The start-up trampoline: a small static x86-64 ELF, written once to the cache directory, that installs the
 * syscall policy (seccomp) on itself, stops itself (`kill(getpid(), SIGSTOP)`) and then `execve`s the program.
 * Installing the policy here, not on the tracer thread, keeps it off Node's own thread: a filter that traces
 * executable file mmaps made V8 in the tracer worker run ≈ 5× slower (measured: 30 instead of 6 µs per trap).
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

const BASE = 0x400000;
const EHDR = 64;
const PHDR = 56;

/** One classic BPF instruction: code, jt, jf, k. */
export type BpfInsn = [number, number, number, number];

function imm32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

/** Machine code with the mnemonic of each instruction; `fprog` is the address of the `sock_fprog`. */
function code(fprog: number): number[] {
  const installFilter = [
    0xb8, ...imm32(317), // mov eax, 317 (seccomp)
    0xbf, 0x01, 0x00, 0x00, 0x00, // mov edi, 1 (SECCOMP_SET_MODE_FILTER)
    0x31, 0xf6, // xor esi, esi
    0xba, ...imm32(fprog), // mov edx, &fprog
    0x0f, 0x05, // syscall
  ];
  const noNewPrivs = [
    0xb8, ...imm32(157), // mov eax, 157 (prctl)
    0xbf, ...imm32(38), // mov edi, 38 (PR_SET_NO_NEW_PRIVS)
    0xbe, 0x01, 0x00, 0x00, 0x00, // mov esi, 1
    0x31, 0xd2, // xor edx, edx
    0x45, 0x31, 0xd2, // xor r10d, r10d
    0x45, 0x31, 0xc0, // xor r8d, r8d
    0x0f, 0x05, // syscall
  ];
  const retry = [...noNewPrivs, ...installFilter];
  return [
    // 1. The syscall policy, in the tracee only (as root no no_new_privs is needed; otherwise set it and retry).
    ...installFilter,
    0x85, 0xc0, // test eax, eax
    0x74, retry.length, // jz +retry
    ...retry,
    // 2. Stop until the tracer has seized us.
    0xb8, 0x27, 0x00, 0x00, 0x00, // mov eax, 39 (getpid)
    0x0f, 0x05, // syscall
    0x89, 0xc7, // mov edi, eax
    0xbe, 0x13, 0x00, 0x00, 0x00, // mov esi, 19 (SIGSTOP)
    0xb8, 0x3e, 0x00, 0x00, 0x00, // mov eax, 62 (kill)
    0x0f, 0x05, // syscall
    // 3. execve(argv[1], &argv[2], envp).
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
}

/**
 * The ELF image: headers, code, then the `sock_fprog` and the filter (read-only data in the same segment).
 * @param filter - the seccomp program the trampoline installs on itself before stopping (empty: none)
 */
export function trampolineImage(filter: BpfInsn[]): Uint8Array {
  const codeLen = code(0).length;
  const fprogOff = (EHDR + PHDR + codeLen + 7) & ~7;
  const filterOff = fprogOff + 16;
  const size = filterOff + filter.length * 8;
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
  b.set(code(BASE + fprogOff), EHDR + PHDR);
  dv.setUint16(fprogOff, filter.length, true); // sock_fprog.len
  dv.setBigUint64(fprogOff + 8, BigInt(BASE + filterOff), true); // sock_fprog.filter
  filter.forEach(([c, jt, jf, k], i) => {
    const o = filterOff + i * 8;
    dv.setUint16(o, c, true);
    dv.setUint8(o + 2, jt);
    dv.setUint8(o + 3, jf);
    dv.setUint32(o + 4, k >>> 0, true);
  });
  return b;
}

/** Path of the trampoline for `filter`, written on first use (the file name carries a hash of the image). */
export function trampolinePath(filter: BpfInsn[]): string {
  const image = trampolineImage(filter);
  let h = 0x811c9dc5;
  for (const x of image) h = Math.imul(h ^ x, 0x01000193) >>> 0;
  const dir = join(cacheDir(), "..");
  const path = join(dir, `trampoline-${h.toString(16).padStart(8, "0")}`);
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
