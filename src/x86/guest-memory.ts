/**
 * How the engine reads and writes guest memory: 64-bit linear addresses, page granularity, faults as values.
 *
 * Emulates: the hypervisor's guest-linear access path (page walk + copy) as an interface, so the ptrace front end
 * (process_vm_readv), an emulator embedding (its RAM array) and tests (a sparse page map) can each provide one.
 * Source of truth: the Xen review's requirement that the instruction fetch be split at page boundaries and each
 * byte be read once; Intel SDM vol. 3 §4.7 (#PF reports the faulting linear address in CR2).
 * Does not: translate addresses itself; implementations decide what is present and writable.
 *
 * Addresses are exact over the whole 64-bit range: each is passed as two unsigned 32-bit halves `lo` and `hi`
 * (see `linear-address.ts`). The engine never passes an access that crosses a 4 GiB boundary (`lo + length` ≤
 * 2^32, so `hi` is the same for every byte), which keeps implementations free of carries: instruction fetches
 * never cross a page, and string I/O splits its accesses at 4 GiB boundaries.
 */
import { VmportError } from "../core/errors.js";
import { BLOCK_SIZE, addressHi, addressLo, addressToBigInt } from "./linear-address.js";

/** Size of a guest page in bytes. */
export const PAGE_SIZE = 4096;

/** Guest memory seen through 64-bit linear addresses `hi:lo` (unsigned 32-bit halves). */
export interface GuestMemory {
  /**
   * Copy `length` bytes starting at linear address `hi:lo` into `dst[start … start+length)`.
   * (Offsets instead of a subarray keep the per-exit instruction fetch free of allocations.)
   * Returns how many bytes were readable from the start: `length` when all were, else the offset of the first
   * byte that is not (the #PF address is `hi:lo` + that offset; `dst` past it must be ignored).
   * The engine guarantees `lo + length ≤ 2^32`.
   */
  read(lo: number, hi: number, dst: Uint8Array, start: number, length: number): number;
  /**
   * Copy `src[start … start+length)` to linear address `hi:lo`. All or nothing: returns `length` after writing
   * every byte, or the offset of the first byte that is not writable, having written nothing.
   * The engine guarantees `lo + length ≤ 2^32`.
   */
  write(lo: number, hi: number, src: Uint8Array, start: number, length: number): number;
  /**
   * Optional: `length` if `length` bytes at `hi:lo` could be written now, else the offset of the first that could
   * not. INS asks before reading the port, so a faulting INS has no device side effects; without it the engine
   * restores the registers on a fault but the device's side effects stand.
   */
  checkWritable?(lo: number, hi: number, length: number): number;
}

/** Access rights of a page in {@link PagedMemory}. */
export interface PageInfo {
  /** The page's 4096 bytes. */
  data: Uint8Array;
  /** Whether guest writes (INS) may change the page. */
  writable: boolean;
}

/** Page number of `hi:lo` (exact: at most 2^52). */
function pageNumber(lo: number, hi: number): number {
  return hi * (BLOCK_SIZE / PAGE_SIZE) + Math.floor(lo / PAGE_SIZE);
}

/**
 * Call `fn(lo, hi, offset, n)` for consecutive pieces of `length` bytes at `addr` (modulo 2^64), each inside one
 * 4 GiB block: host-side helpers use it to honour the `lo + length ≤ 2^32` contract.
 */
function forEachBlockPiece(
  addr: number | bigint,
  length: number,
  fn: (lo: number, hi: number, offset: number, n: number) => boolean,
): boolean {
  let lo = addressLo(addr);
  let hi = addressHi(addr);
  for (let off = 0; off < length; ) {
    const n = Math.min(length - off, BLOCK_SIZE - lo);
    if (!fn(lo, hi, off, n)) return false;
    off += n;
    lo = 0;
    hi = (hi + 1) >>> 0;
  }
  return true;
}

/**
 * A sparse guest address space of 4 KiB pages anywhere in the 64-bit range, for tests, the CLI and emulator
 * embeddings without paging. Counts every read per page so tests can check that each page was read once.
 * Host-side helpers take addresses as numbers (safe integers) or bigints, modulo 2^64.
 */
export class PagedMemory implements GuestMemory {
  private readonly pages = new Map<number, PageInfo>();
  /** Number of `read` calls that touched each page number (address / 4096, for tests). */
  readonly readsPerPage = new Map<number, number>();
  /** Total `read` calls. */
  readCalls = 0;

  /** Make the page containing `addr` present (zero-filled) and return it. */
  map(addr: number | bigint, writable = true): PageInfo {
    return this.mapPage(pageNumber(addressLo(addr), addressHi(addr)), writable);
  }

  private mapPage(pn: number, writable: boolean): PageInfo {
    let p = this.pages.get(pn);
    if (!p) {
      p = { data: new Uint8Array(PAGE_SIZE), writable };
      this.pages.set(pn, p);
    } else p.writable = writable;
    return p;
  }

  /** Remove the page containing `addr`. */
  unmap(addr: number | bigint): void {
    this.pages.delete(pageNumber(addressLo(addr), addressHi(addr)));
  }

  /** Map the pages covering `bytes` at `addr` and copy them in (host-side setup; ignores writability). */
  load(addr: number | bigint, bytes: Uint8Array, writable = true): void {
    forEachBlockPiece(addr, bytes.length, (lo, hi, offset, length) => {
      for (let off = 0; off < length; ) {
        const a = lo + off;
        const p = this.mapPage(pageNumber(a, hi), writable);
        const inPage = a % PAGE_SIZE;
        const n = Math.min(length - off, PAGE_SIZE - inPage);
        p.data.set(bytes.subarray(offset + off, offset + off + n), inPage);
        off += n;
      }
      return true;
    });
  }

  /** Host-side read for tests: throws if any byte is not mapped. */
  peek(addr: number | bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    forEachBlockPiece(addr, length, (lo, hi, offset, n) => {
      const got = this.read(lo, hi, out, offset, n);
      if (got !== n)
        throw new VmportError("VMPORT_BAD_ARGUMENT", `peek: address 0x${addressToBigInt(lo + got, hi).toString(16)} is not mapped`);
      return true;
    });
    return out;
  }

  /** Copy from the mapped pages (see {@link GuestMemory.read}); counts the call and the reads of each page. */
  read(lo: number, hi: number, dst: Uint8Array, start: number, length: number): number {
    this.readCalls++;
    for (let off = 0; off < length; ) {
      const a = lo + off;
      const pn = pageNumber(a, hi);
      const p = this.pages.get(pn);
      this.readsPerPage.set(pn, (this.readsPerPage.get(pn) ?? 0) + 1);
      if (!p) return off;
      const inPage = a % PAGE_SIZE;
      const n = Math.min(length - off, PAGE_SIZE - inPage);
      dst.set(p.data.subarray(inPage, inPage + n), start + off);
      off += n;
    }
    return length;
  }

  /** Bytes writable from `hi:lo`: up to the first missing or read-only page. */
  checkWritable(lo: number, hi: number, length: number): number {
    for (let off = 0; off < length; ) {
      const a = lo + off;
      const p = this.pages.get(pageNumber(a, hi));
      if (!p?.writable) return off;
      off += PAGE_SIZE - (a % PAGE_SIZE);
    }
    return length;
  }

  /** Write to the mapped pages, all or nothing (see {@link GuestMemory.write}). */
  write(lo: number, hi: number, src: Uint8Array, start: number, length: number): number {
    const ok = this.checkWritable(lo, hi, length);
    if (ok !== length) return ok;
    for (let off = 0; off < length; ) {
      const a = lo + off;
      const p = this.pages.get(pageNumber(a, hi))!;
      const inPage = a % PAGE_SIZE;
      const n = Math.min(length - off, PAGE_SIZE - inPage);
      p.data.set(src.subarray(start + off, start + off + n), inPage);
      off += n;
    }
    return length;
  }
}

/**
 * Guest memory made of exact byte ranges anywhere in the 64-bit range (a range may wrap past 2^64 to 0): a byte
 * outside every range is not present, even in the same page. `vmport step` uses it so that "bytes past HEX are not
 * present memory" holds byte for byte.
 */
export class RangeMemory implements GuestMemory {
  private readonly ranges: { addr: bigint; bytes: Uint8Array }[] = [];

  /** Add a present, writable range at `addr` (modulo 2^64; host-side setup). Later ranges win where they overlap. */
  add(addr: number | bigint, bytes: Uint8Array): void {
    this.ranges.unshift({ addr: addressToBigInt(addressLo(addr), addressHi(addr)), bytes: bytes.slice() });
  }

  /**
   * For the access of `length` bytes at `hi:lo`: which range holds each byte (index into `ranges`, -1 = none; the
   * latest added wins) and where in that range. One bigint subtraction per range, then plain numbers.
   */
  private locate(lo: number, hi: number, length: number): { range: Int32Array; index: Float64Array } {
    const at = addressToBigInt(lo, hi);
    const range = new Int32Array(length).fill(-1);
    const index = new Float64Array(length);
    for (let ri = this.ranges.length - 1; ri >= 0; ri--) {
      const r = this.ranges[ri]!;
      // Offset of the access start inside the range, modulo 2^64; the range covers access offsets [from, to).
      const d = BigInt.asUintN(64, at - r.addr);
      let from: number;
      let first: number;
      if (d < BigInt(r.bytes.length)) {
        from = 0;
        first = Number(d);
      } else {
        const gap = (1n << 64n) - d; // the range starts `gap` bytes after the access start
        if (gap >= BigInt(length)) continue;
        from = Number(gap);
        first = 0;
      }
      const to = Math.min(length, from + r.bytes.length - first);
      for (let k = from; k < to; k++) {
        range[k] = ri;
        index[k] = first + (k - from);
      }
    }
    return { range, index };
  }

  /** Copy from the ranges (see {@link GuestMemory.read}); bytes outside every range are not present. */
  read(lo: number, hi: number, dst: Uint8Array, start: number, length: number): number {
    const { range, index } = this.locate(lo, hi, length);
    for (let k = 0; k < length; k++) {
      if (range[k]! < 0) return k;
      dst[start + k] = this.ranges[range[k]!]!.bytes[index[k]!]!;
    }
    return length;
  }

  /** Bytes writable from `hi:lo`: up to the first byte outside every range. */
  checkWritable(lo: number, hi: number, length: number): number {
    const k = this.locate(lo, hi, length).range.indexOf(-1);
    return k < 0 ? length : k;
  }

  /** Write into the ranges, all or nothing (see {@link GuestMemory.write}). */
  write(lo: number, hi: number, src: Uint8Array, start: number, length: number): number {
    const { range, index } = this.locate(lo, hi, length);
    const bad = range.indexOf(-1);
    if (bad >= 0) return bad;
    for (let k = 0; k < length; k++) this.ranges[range[k]!]!.bytes[index[k]!] = src[start + k]!;
    return length;
  }
}

/**
 * Guest memory as one flat RAM array at linear address 0 (no paging): emulator embeddings and benchmarks.
 * Addresses at or past the end of `ram` are not present.
 */
export class FlatMemory implements GuestMemory {
  private readonly ramView: DataView;
  // One-entry cache of a DataView over the last destination (the instruction fetcher's buffer), so short reads
  // copy four bytes at a time without allocating: a byte loop costs about 1 ns per byte in V8 here.
  private lastDst: Uint8Array | null = null;
  private lastDstView: DataView | null = null;

  /** @param ram - the guest's RAM; linear address = index (below 4 GiB) */
  constructor(readonly ram: Uint8Array) {
    this.ramView = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  }

  /** Copy from RAM (see {@link GuestMemory.read}); only addresses below 4 GiB and the end of `ram` are present. */
  read(lo: number, hi: number, dst: Uint8Array, start: number, length: number): number {
    if (hi !== 0) return 0;
    const ram = this.ram;
    const ok = Math.min(length, Math.max(0, ram.length - lo));
    if (ok <= 16) {
      let dv = this.lastDstView;
      if (this.lastDst !== dst || dv === null) {
        dv = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
        this.lastDst = dst;
        this.lastDstView = dv;
      }
      const src = this.ramView;
      let i = 0;
      for (; i + 4 <= ok; i += 4) dv.setUint32(start + i, src.getUint32(lo + i, true), true);
      for (; i < ok; i++) dst[start + i] = ram[lo + i]!;
    } else dst.set(ram.subarray(lo, lo + ok), start);
    return ok;
  }

  /** Bytes writable from `hi:lo`: up to the end of `ram` (none at or above 4 GiB). */
  checkWritable(lo: number, hi: number, length: number): number {
    if (hi !== 0) return 0;
    return lo + length > this.ram.length ? Math.max(0, this.ram.length - lo) : length;
  }

  /** Write into RAM, all or nothing (see {@link GuestMemory.write}). */
  write(lo: number, hi: number, src: Uint8Array, start: number, length: number): number {
    const ok = this.checkWritable(lo, hi, length);
    if (ok !== length) return ok;
    this.ram.set(src.subarray(start, start + length), lo);
    return length;
  }
}
