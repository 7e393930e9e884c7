/**
 * The start-up trampoline: a small static x86-64 ELF, written once to the cache directory, that installs the
 * syscall policy (seccomp) on itself, stops itself (`kill(getpid(), SIGSTOP)`) and then `execve`s the program.
 * Installing the policy here, not on the tracer thread, keeps it off Node's own thread: a filter that traces
 * executable file mmaps made V8 in the tracer worker run ≈ 5× slower (measured: 30 instead of 6 µs per trap).
 *
 * Why not `sh -c 'kill -STOP $$; exec "$@"'` (`docs/tracer.md` §3): a dynamic trampoline maps libc with `mmap`
 * before it stops, and the seccomp policy makes executable file mmaps stop for the tracer (to patch `cpuid` in
 * dlopen'ed libraries); until PTRACE_SEIZE has happened there is no tracer, and the kernel fails such a call with
 * ENOSYS ("failed to map segment from shared object"), about once in 60 starts. A static trampoline makes no mmap
 * before its self-stop, so the race is gone.
 * Usage: `trampoline RESOLVED_PATH ARGV0 ARGS…` → `execve(RESOLVED_PATH, [ARGV0, ARGS…], envp)`; if that fails,
 * exit with the errno of the failed `execve` (the tracer, having seen no exec, reports it as a shell would).
 * PATH is searched by vmport before spawning.
 */
import { existsSync, statSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { IMAGE_BASE, imm32, installImage, staticImage } from "../static-elf.js";
import type { Insn } from "./seccomp.js";

/** One classic BPF instruction: code, jt, jf, k. */
export type BpfInsn = Insn;

/** Machine code with the mnemonic of each instruction; `fprog` is the address of the `sock_fprog`. */
function code(fprog: number): number[] {
  // biome-ignore format: byte fixture, one instruction or field per line with its mnemonic beside it
  const installFilter = [
    0xb8, ...imm32(317), // mov eax, 317 (seccomp)
    0xbf, 0x01, 0x00, 0x00, 0x00, // mov edi, 1 (SECCOMP_SET_MODE_FILTER)
    0x31, 0xf6, // xor esi, esi
    0xba, ...imm32(fprog), // mov edx, &fprog
    0x0f, 0x05, // syscall
  ];
  // biome-ignore format: byte fixture, one instruction or field per line with its mnemonic beside it
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
  // biome-ignore format: byte fixture, one instruction or field per line with its mnemonic beside it
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
    // 4. execve failed: exit with its errno (the tracer saw no exec and reports it as the shell would).
    0xf7, 0xd8, // neg eax
    0x89, 0xc7, // mov edi, eax
    0xb8, 0x3c, 0x00, 0x00, 0x00, // mov eax, 60 (exit)
    0x0f, 0x05, // syscall
  ];
}

/**
 * The ELF image: headers, code, then the `sock_fprog` and the filter (read-only data in the same segment).
 * @param filter - the seccomp program the trampoline installs on itself before stopping (empty: none)
 */
export function trampolineImage(filter: BpfInsn[]): Uint8Array {
  const data = new Uint8Array(16 + filter.length * 8);
  const dv = new DataView(data.buffer);
  dv.setUint16(0, filter.length, true); // sock_fprog.len
  filter.forEach(([c, jt, jf, k], i) => {
    const o = 16 + i * 8;
    dv.setUint16(o, c, true);
    dv.setUint8(o + 2, jt);
    dv.setUint8(o + 3, jf);
    dv.setUint32(o + 4, k >>> 0, true);
  });
  const { image, dataOffset } = staticImage((fprog) => code(fprog), data);
  // sock_fprog.filter: the absolute address of the filter, right after the 16-byte sock_fprog.
  new DataView(image.buffer).setBigUint64(dataOffset + 8, BigInt(IMAGE_BASE + dataOffset + 16), true);
  return image;
}

/** Path of the trampoline for `filter`, written on first use (the file name carries a hash of the image). */
export function trampolinePath(filter: BpfInsn[]): string {
  return installImage("trampoline", trampolineImage(filter));
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
