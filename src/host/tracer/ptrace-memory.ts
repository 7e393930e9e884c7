/**
 * Guest memory of a traced process, through `process_vm_readv` / `process_vm_writev`.
 *
 * Emulates: the hypervisor's guest-linear access for a Linux process: addresses are the process's virtual
 * addresses (given as 32-bit halves, passed to the kernel as one 64-bit value); a page that is not mapped (or not
 * writable, for writes) is a fault at the first byte not transferred.
 * Source of truth: `process_vm_readv(2)` (partial transfers stop at the first inaccessible page).
 * Prefetched bytes: the native step reads the instruction bytes at RIP together with the registers; reads that
 * fall entirely inside that window are served from it (the same bytes the kernel gave for the same stop), every
 * other read goes to `process_vm_readv`, so the engine sees what it would have read itself.
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

  /** The prefetch window: bytes at `winHi:winLo`, `winLen` of them valid (0: no window). */
  private winBytes: Uint8Array | null = null;
  private winOffset = 0;
  private winLo = 0;
  private winHi = 0;
  private winLen = 0;

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

  /**
   * Serve reads inside `hi:lo` … + `length` from `bytes[offset…]` until {@link clearPrefetch} (the window must not
   * cross a 4 GiB boundary; a longer one is cut there).
   */
  prefetched(lo: number, hi: number, bytes: Uint8Array, offset: number, length: number): void {
    this.winBytes = bytes;
    this.winOffset = offset;
    this.winLo = lo;
    this.winHi = hi;
    this.winLen = Math.min(length, 0x1_0000_0000 - lo);
  }

  /** Forget the prefetch window. */
  clearPrefetch(): void {
    this.winLen = 0;
    this.winBytes = null;
  }

  read(lo: number, hi: number, dst: Uint8Array, start: number, length: number): number {
    if (length === 0) return 0;
    if (this.winLen > 0 && hi === this.winHi && lo >= this.winLo && lo + length <= this.winLo + this.winLen) {
      const w = this.winBytes!;
      const from = this.winOffset + (lo - this.winLo);
      for (let i = 0; i < length; i++) dst[start + i] = w[from + i]!;
      return length;
    }
    this.prepare(lo, hi, length);
    const n = this.c.processVmReadv(this.pid, this.localIov.ptr, 1, this.remoteIov.ptr, 1, 0);
    const got = Math.max(n, 0);
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
    const put = Math.max(n, 0);
    return put;
  }
}
