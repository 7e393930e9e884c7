/**
 * Guest memory of a traced process, through `process_vm_readv` / `process_vm_writev`.
 *
 * Emulates: the hypervisor's guest-linear access for a Linux process: addresses are the process's virtual
 * addresses (given as 32-bit halves, passed to the kernel as one 64-bit value); a page that is not mapped (or not
 * writable, for writes) is a fault at the first byte not transferred.
 * Source of truth: `process_vm_readv(2)` (partial transfers stop at the first inaccessible page).
 * Does not: offer `checkWritable` (no cheap probe exists); the engine then restores registers when an INS faults.
 */
import type { GuestMemory } from "../../x86/guest-memory.js";
import type { Libc } from "../ptrace/libc.js";

/** A native buffer with its address and a byte view. */
interface Native {
  ptr: unknown;
  view: Uint8Array;
  address: bigint;
}

/** Memory of one process. */
export class PtraceMemory implements GuestMemory {
  /** Process (or thread) id whose address space is read. */
  pid = 0;
  private scratch: Native;
  private readonly localIov: Native;
  private readonly remoteIov: Native;
  private readonly local: DataView;
  private readonly remote: DataView;

  constructor(private readonly c: Libc) {
    this.scratch = c.alloc(4096);
    this.localIov = c.alloc(16);
    this.remoteIov = c.alloc(16);
    this.local = new DataView(this.localIov.view.buffer, this.localIov.view.byteOffset, 16);
    this.remote = new DataView(this.remoteIov.view.buffer, this.remoteIov.view.byteOffset, 16);
  }

  private prepare(lo: number, hi: number, length: number): void {
    if (this.scratch.view.length < length) this.scratch = this.c.alloc(Math.max(length, this.scratch.view.length * 2));
    // Two 32-bit halves instead of BigInt: this runs on every trap (the instruction fetch).
    const a = this.scratch.address;
    this.local.setUint32(0, Number(a & 0xffffffffn), true);
    this.local.setUint32(4, Number(a >> 32n), true);
    this.local.setUint32(8, length, true);
    this.local.setUint32(12, 0, true);
    this.remote.setUint32(0, lo, true);
    this.remote.setUint32(4, hi, true);
    this.remote.setUint32(8, length, true);
    this.remote.setUint32(12, 0, true);
  }

  read(lo: number, hi: number, dst: Uint8Array, start: number, length: number): number {
    if (length === 0) return 0;
    this.prepare(lo, hi, length);
    const n = this.c.processVmReadv(this.pid, this.localIov.ptr, 1, this.remoteIov.ptr, 1, 0);
    const got = n < 0 ? 0 : n;
    const v = this.scratch.view;
    if (got <= 16) for (let i = 0; i < got; i++) dst[start + i] = v[i]!;
    else dst.set(v.subarray(0, got), start);
    return got;
  }

  write(lo: number, hi: number, src: Uint8Array, start: number, length: number): number {
    if (length === 0) return 0;
    this.prepare(lo, hi, length);
    this.scratch.view.set(src.subarray(start, start + length));
    const n = this.c.processVmWritev(this.pid, this.localIov.ptr, 1, this.remoteIov.ptr, 1, 0);
    const put = n < 0 ? 0 : n;
    return put;
  }
}
