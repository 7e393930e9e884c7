/**
 * The syscall policy as a program: a small classic-BPF interpreter runs it on synthetic `seccomp_data` for each
 * case the policy must decide, on both architectures, so a wrong jump offset fails here and not in a guest.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { EXEC_MMAP_TRACE_DATA, policyProgram } from "./seccomp.js";
import { trampolineImage } from "./trampoline.js";

const X64 = 0xc000003e;
const I386 = 0x40000003;
const ALLOW = 0x7fff0000;
const TRACE = (0x7ff00000 | EXEC_MMAP_TRACE_DATA) >>> 0;
const ERRNO = (e: number) => (0x00050000 | e) >>> 0;

/** Run a filter on seccomp_data {nr, arch, args}; returns the action. */
function run(prog: [number, number, number, number][], nr: number, arch: number, args: number[] = []): number {
  const data = new DataView(new ArrayBuffer(64));
  data.setInt32(0, nr, true);
  data.setUint32(4, arch, true);
  for (const [i, a] of args.entries()) data.setUint32(16 + i * 8, a >>> 0, true);
  let A = 0;
  for (let pc = 0, steps = 0; pc < prog.length && steps < 1000; steps++) {
    const [code, jt, jf, k] = prog[pc]!;
    if (code === 0x20) {
      A = data.getUint32(k, true);
      pc++;
    } else if (code === 0x15) pc += 1 + (A >>> 0 === k >>> 0 ? jt : jf);
    else if (code === 0x35) pc += 1 + (A >>> 0 >= k >>> 0 ? jt : jf);
    else if (code === 0x45) pc += 1 + ((A & k) !== 0 ? jt : jf);
    else if (code === 0x06) return k >>> 0;
    else throw new Error(`unknown BPF op ${code}`);
  }
  throw new Error("fell off the program");
}

for (const trace of [false, true]) {
  const prog = policyProgram(trace);
  test(`policy (exec-mmap trace ${trace ? "on" : "off"}): every decision on x86-64 and i386`, () => {
    for (const [arch, iopl, ioperm, socket, mmap, ptrace, clone, clone3] of [
      [X64, 172, 173, 41, 9, 101, 56, 435],
      [I386, 110, 101, 359, 192, 26, 120, 435],
    ] as const) {
      assert.equal(run(prog, iopl, arch, [3]), ERRNO(0), "iopl reports success without running");
      assert.equal(run(prog, ioperm, arch, [0x5658, 2, 1]), ERRNO(0));
      assert.equal(run(prog, socket, arch, [40, 2, 0]), ERRNO(97), "AF_VSOCK → EAFNOSUPPORT");
      assert.equal(run(prog, socket, arch, [2, 2, 0]), ALLOW, "AF_INET is fine");
      assert.equal(run(prog, mmap, arch, [0, 4096, 5, 2, 3, 0]), trace ? TRACE : ALLOW, "file mmap with PROT_EXEC");
      assert.equal(run(prog, mmap, arch, [0, 4096, 5, 0x22, 0xffffffff, 0]), ALLOW, "anonymous exec mmap (JIT) is never traced");
      assert.equal(run(prog, mmap, arch, [0, 4096, 3, 2, 3, 0]), ALLOW, "data mmap");
      assert.equal(run(prog, ptrace, arch, [0x4206, 1234]), ERRNO(1), "ptrace (PTRACE_SEIZE of vmport) → EPERM");
      assert.equal(run(prog, ptrace, arch, [0]), ERRNO(1), "PTRACE_TRACEME → EPERM");
      assert.equal(run(prog, clone, arch, [0x00800000 | 17]), ERRNO(1), "clone(CLONE_UNTRACED) → EPERM");
      assert.equal(run(prog, clone, arch, [0x003d0f00]), ALLOW, "a thread (pthread_create's flags)");
      assert.equal(run(prog, clone, arch, [0x01200011]), ALLOW, "fork()'s clone");
      assert.equal(run(prog, clone3, arch, [0x7ffc0000, 88]), ERRNO(38), "clone3 → ENOSYS (libc falls back to clone)");
      assert.equal(run(prog, 39, arch), ALLOW, "anything else");
    }
    assert.equal(run(prog, 0x40000000 + 521, X64, [0x4206]), ERRNO(38), "x32 ptrace cannot bypass the policy");
    assert.equal(run(prog, 0x40000000 + 39, X64), ERRNO(38), "no x32 system call at all");
    assert.equal(run(prog, 172, 0xdeadbeef), ALLOW, "an unknown architecture is left alone");
  });
}

test("the trampoline image: an ELF64 executable whose entry and filter lie inside its one segment", () => {
  const prog = policyProgram(true);
  const img = trampolineImage(prog);
  const dv = new DataView(img.buffer);
  assert.deepEqual([...img.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
  assert.equal(dv.getUint16(16, true), 2); // ET_EXEC
  const entry = Number(dv.getBigUint64(24, true));
  const filesz = Number(dv.getBigUint64(64 + 32, true));
  assert.equal(filesz, img.length);
  assert.ok(entry >= 0x400000 + 120 && entry < 0x400000 + img.length);
  const fprog = img.length - prog.length * 8 - 16;
  assert.equal(dv.getUint16(fprog, true), prog.length);
  assert.equal(Number(dv.getBigUint64(fprog + 8, true)), 0x400000 + fprog + 16);
});
