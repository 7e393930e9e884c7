/**
 * How the engine reads and writes guest memory: linear addresses, page granularity, faults as values.
 *
 * Emulates: the hypervisor's guest-linear access path (page walk + copy) as an interface, so the ptrace front end
 * (process_vm_readv), an emulator embedding (its RAM array) and tests (a sparse page map) can each provide one.
 * Source of truth: the Xen review's requirement that the instruction fetch be split at page boundaries and each
 * byte be read once; Intel SDM vol. 3 §4.7 (#PF reports the faulting linear address in CR2).
 * Does not: translate addresses itself; implementations decide what is present and writable.
 */
import { VmportError } from "../core/errors.js";

/** Size of a guest page in bytes. */
export const PAGE_SIZE = 4096;

/** Returned by {@link GuestMemory.read}/{@link GuestMemory.write} when the whole access succeeded. */
export const MEMORY_OK = -1;

/** Guest memory seen through linear addresses. */
export interface GuestMemory {
  /**
   * Copy `length` bytes starting at linear address `addr` into `dst[start … start+length)`.
   * (Offsets instead of a subarray keep the per-exit instruction fetch free of allocations.)
   * Returns {@link MEMORY_OK}, or the linear address of the first byte that is not readable (then `dst` may be
   * partly written and must be ignored).
   */
  read(addr: number, dst: Uint8Array, start: number, length: number): number;
  /**
   * Copy `src[start … start+length)` to linear address `addr`. All or nothing: returns {@link MEMORY_OK} after
   * writing every byte, or the linear address of the first byte that is not writable, having written nothing.
   */
  write(addr: number, src: Uint8Array, start: number, length: number): number;
  /**
   * Optional: {@link MEMORY_OK} if `length` bytes at `addr` could be written now, else the first address that
   * could not. INS asks before reading the port, so a faulting INS has no device side effects; without it the
   * engine restores the registers on a fault but the device's side effects stand.
   */
  checkWritable?(addr: number, length: number): number;
}

/** Access rights of a page in {@link PagedMemory}. */
export interface PageInfo {
  data: Uint8Array;
  writable: boolean;
}

/**
 * A sparse guest address space of 4 KiB pages, for tests, the CLI and emulator embeddings without paging.
 * Counts every read per page so tests can check that each page was read once.
 */
export class PagedMemory implements GuestMemory {
  private readonly pages = new Map<number, PageInfo>();
  /** Number of `read` calls that touched each page number (for tests). */
  readonly readsPerPage = new Map<number, number>();
  /** Total `read` calls. */
  readCalls = 0;

  /** Make the page containing `addr` present (zero-filled) and return it. */
  map(addr: number, writable = true): PageInfo {
    const pn = Math.floor(addr / PAGE_SIZE);
    let p = this.pages.get(pn);
    if (!p) {
      p = { data: new Uint8Array(PAGE_SIZE), writable };
      this.pages.set(pn, p);
    } else p.writable = writable;
    return p;
  }

  /** Remove the page containing `addr`. */
  unmap(addr: number): void {
    this.pages.delete(Math.floor(addr / PAGE_SIZE));
  }

  /** Map the pages covering `bytes` at `addr` and copy them in (host-side setup; ignores writability). */
  load(addr: number, bytes: Uint8Array, writable = true): void {
    for (let off = 0; off < bytes.length; ) {
      const a = addr + off;
      const p = this.map(a, writable);
      const inPage = a % PAGE_SIZE;
      const n = Math.min(bytes.length - off, PAGE_SIZE - inPage);
      p.data.set(bytes.subarray(off, off + n), inPage);
      off += n;
    }
  }

  /** Host-side read for tests: throws if any byte is not mapped. */
  peek(addr: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    const r = this.read(addr, out, 0, length);
    if (r !== MEMORY_OK) throw new VmportError("VMPORT_BAD_ARGUMENT", `peek: address ${r} is not mapped`);
    return out;
  }

  read(addr: number, dst: Uint8Array, start: number, length: number): number {
    this.readCalls++;
    for (let off = 0; off < length; ) {
      const a = addr + off;
      const pn = Math.floor(a / PAGE_SIZE);
      const p = this.pages.get(pn);
      this.readsPerPage.set(pn, (this.readsPerPage.get(pn) ?? 0) + 1);
      if (!p) return a;
      const inPage = a - pn * PAGE_SIZE;
      const n = Math.min(length - off, PAGE_SIZE - inPage);
      dst.set(p.data.subarray(inPage, inPage + n), start + off);
      off += n;
    }
    return MEMORY_OK;
  }

  checkWritable(addr: number, length: number): number {
    for (let off = 0; off < length; ) {
      const a = addr + off;
      const p = this.pages.get(Math.floor(a / PAGE_SIZE));
      if (!p || !p.writable) return a;
      off += PAGE_SIZE - (a % PAGE_SIZE);
    }
    return MEMORY_OK;
  }

  write(addr: number, src: Uint8Array, start: number, length: number): number {
    const bad = this.checkWritable(addr, length);
    if (bad !== MEMORY_OK) return bad;
    for (let off = 0; off < length; ) {
      const a = addr + off;
      const p = this.pages.get(Math.floor(a / PAGE_SIZE))!;
      const inPage = a % PAGE_SIZE;
      const n = Math.min(length - off, PAGE_SIZE - inPage);
      p.data.set(src.subarray(start + off, start + off + n), inPage);
      off += n;
    }
    return MEMORY_OK;
  }
}

/**
 * Guest memory made of exact byte ranges: a byte outside every range is not present, even in the same page.
 * `vmport step` uses it so that "bytes past HEX are not present memory" holds byte for byte.
 */
export class RangeMemory implements GuestMemory {
  private readonly ranges: { addr: number; bytes: Uint8Array }[] = [];

  /** Add a present, writable range (host-side setup). Later ranges win where they overlap. */
  add(addr: number, bytes: Uint8Array): void {
    this.ranges.unshift({ addr, bytes: bytes.slice() });
  }

  private find(a: number): { addr: number; bytes: Uint8Array } | undefined {
    return this.ranges.find((r) => a >= r.addr && a < r.addr + r.bytes.length);
  }

  read(addr: number, dst: Uint8Array, start: number, length: number): number {
    for (let i = 0; i < length; i++) {
      const r = this.find(addr + i);
      if (!r) return addr + i;
      dst[start + i] = r.bytes[addr + i - r.addr]!;
    }
    return MEMORY_OK;
  }

  checkWritable(addr: number, length: number): number {
    for (let i = 0; i < length; i++) if (!this.find(addr + i)) return addr + i;
    return MEMORY_OK;
  }

  write(addr: number, src: Uint8Array, start: number, length: number): number {
    const bad = this.checkWritable(addr, length);
    if (bad !== MEMORY_OK) return bad;
    for (let i = 0; i < length; i++) {
      const r = this.find(addr + i)!;
      r.bytes[addr + i - r.addr] = src[start + i]!;
    }
    return MEMORY_OK;
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

  /** @param ram - the guest's RAM; linear address = index */
  constructor(readonly ram: Uint8Array) {
    this.ramView = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  }

  read(addr: number, dst: Uint8Array, start: number, length: number): number {
    const ram = this.ram;
    const ok = Math.min(length, Math.max(0, ram.length - addr));
    if (ok <= 16) {
      let dv = this.lastDstView;
      if (this.lastDst !== dst || dv === null) {
        dv = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
        this.lastDst = dst;
        this.lastDstView = dv;
      }
      const src = this.ramView;
      let i = 0;
      for (; i + 4 <= ok; i += 4) dv.setUint32(start + i, src.getUint32(addr + i, true), true);
      for (; i < ok; i++) dst[start + i] = ram[addr + i]!;
    } else dst.set(ram.subarray(addr, addr + ok), start);
    return ok === length ? MEMORY_OK : addr + ok;
  }

  checkWritable(addr: number, length: number): number {
    return addr + length > this.ram.length ? Math.max(addr, this.ram.length) : MEMORY_OK;
  }

  write(addr: number, src: Uint8Array, start: number, length: number): number {
    if (addr + length > this.ram.length) return Math.max(addr, this.ram.length);
    this.ram.set(src.subarray(start, start + length), addr);
    return MEMORY_OK;
  }
}
