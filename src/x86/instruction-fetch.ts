/**
 * Instruction fetch for the #GP intercept: page-split, lazy, each byte read once, exact at any 64-bit address.
 *
 * Emulates: what a hypervisor must do when the exit gives no instruction bytes — read the faulting instruction
 * from guest memory. The first read goes from RIP to the end of its page (at most 15 bytes, or the exit's length
 * hint); the next page is read only if the decoder asks for a byte there. No byte is read twice, so a guest that
 * rewrites the instruction from another vCPU cannot make the decoder see two different versions (the Xen review's
 * "memory may change between the reads"). Addresses are `hi:lo` halves: outside 64-bit mode the fetch wraps at
 * 2^32; in 64-bit mode it wraps at 2^64 and a byte at a non-canonical address is a #GP(0) fault, not a #PF.
 * Source of truth: Xen vmware_port review (v6: "always look at up to 15 bytes"); VMX exit instruction length
 * (SDM vol. 3 §28.2.5) is a hint, SVM gives none; SDM vol. 1 §3.3.7.1 (canonical addresses).
 * Does not: translate addresses (the {@link GuestMemory} does) or wrap a 16-bit IP inside one instruction.
 */
import { MAX_INSTRUCTION_LENGTH, type ByteSource } from "./decoder.js";
import { PAGE_SIZE, type GuestMemory } from "./guest-memory.js";
import { AddressSpace, addressToBigInt, blockUsable } from "./linear-address.js";

/** Why an instruction fetch stopped short. */
export const FetchFault = { NONE: 0, PF: 1, GP: 2 } as const;
/** One of the {@link FetchFault} values. */
export type FetchFault = (typeof FetchFault)[keyof typeof FetchFault];

/** A reusable fetcher: `begin()` per exit, then hand it to the decoder as its {@link ByteSource}. */
export class InstructionFetcher implements ByteSource {
  /** The bytes fetched so far. */
  readonly buffer = new Uint8Array(MAX_INSTRUCTION_LENGTH);
  /** How many bytes of {@link buffer} are valid. */
  filled = 0;
  /**
   * Why a byte the decoder needed could not be fetched: {@link FetchFault.NONE}, {@link FetchFault.PF} (not
   * present) or {@link FetchFault.GP} (a non-canonical address in 64-bit mode). {@link faultLo}/{@link faultHi} say
   * where.
   */
  fault: FetchFault = FetchFault.NONE;
  /** Low half of the linear address of the first byte that could not be read (valid when {@link faulted}). */
  faultLo = 0;
  /** High half of that address. */
  faultHi = 0;
  /** Number of `GuestMemory.read` calls made for the current instruction. */
  reads = 0;
  private mem: GuestMemory | null = null;
  private baseLo = 0;
  private baseHi = 0;
  private space: AddressSpace = AddressSpace.CANONICAL48;
  private hint = MAX_INSTRUCTION_LENGTH;

  /**
   * Start fetching the instruction at linear address `hi:lo` (unsigned 32-bit halves).
   * @param lengthHint - instruction length reported by the exit (VMX), or 0 when unknown (SVM, ptrace)
   * @param space - the vCPU's linear address space (`CpuState.addressSpace()`); default 64-bit, 48-bit canonical
   */
  begin(mem: GuestMemory, lo: number, hi: number, lengthHint = 0, space: AddressSpace = AddressSpace.CANONICAL48): void {
    this.mem = mem;
    this.baseLo = lo;
    this.baseHi = space === AddressSpace.FLAT32 ? 0 : hi;
    this.space = space;
    this.filled = 0;
    this.fault = FetchFault.NONE;
    this.reads = 0;
    this.hint = lengthHint > 0 && lengthHint <= MAX_INSTRUCTION_LENGTH ? lengthHint : MAX_INSTRUCTION_LENGTH;
    this.fill(); // the decoder always needs byte 0: read the first chunk now
  }

  /** Forget the last instruction (nothing fetched): for exits that decode nothing. */
  clear(): void {
    this.filled = 0;
    this.fault = FetchFault.NONE;
    this.reads = 0;
  }

  /** The fault address as a bigint, or null when nothing faulted. */
  faultAddress(): bigint | null {
    return this.fault !== FetchFault.NONE ? addressToBigInt(this.faultLo, this.faultHi) : null;
  }

  /** Byte `i` of the instruction: from the first page's fetch, or read now from the next page (once). */
  byteAt(i: number): number {
    return i < this.filled ? this.buffer[i]! : this.fetchMore(i);
  }

  /** Slow path of {@link byteAt}: read chunks until byte `i` is there or a read fails. */
  private fetchMore(i: number): number {
    while (i >= this.filled) if (!this.fill()) break;
    // A failed chunk may still have delivered the bytes before the fault (byte-granular memories).
    return i < this.filled ? this.buffer[i]! : -1;
  }

  /** Read the next chunk: up to the page end, bounded by the hint for the first chunk and by 15 overall. */
  private fill(): boolean {
    if (this.fault !== FetchFault.NONE || this.filled >= MAX_INSTRUCTION_LENGTH || this.mem === null) return false;
    const lo = this.baseLo + this.filled;
    return this.baseHi === 0 && lo <= 0xffffffff ? this.chunk(lo, 0) : this.farChunk(lo);
  }

  /** {@link fill} above 4 GiB or across a 4 GiB boundary: carry into the high half, refuse a non-canonical block. */
  private farChunk(lo: number): boolean {
    let hi = this.baseHi;
    if (lo > 0xffffffff) {
      // 2^32 wraps to 0 outside 64-bit mode; in it the carry goes into the high half (2^64 wraps to 0).
      lo -= 0x1_0000_0000;
      if (this.space !== AddressSpace.FLAT32) hi = (hi + 1) >>> 0;
    }
    if (!blockUsable(hi, this.space)) return this.stop(FetchFault.GP, lo, hi);
    return this.chunk(lo, hi);
  }

  /** Read one chunk at `hi:lo` into the buffer. */
  private chunk(lo: number, hi: number): boolean {
    const limit = this.filled < this.hint ? this.hint : MAX_INSTRUCTION_LENGTH;
    const n = Math.min(limit - this.filled, PAGE_SIZE - (lo & (PAGE_SIZE - 1)));
    this.reads++;
    const got = this.mem!.read(lo, hi, this.buffer, this.filled, n);
    if (got === n) {
      this.filled += n;
      return true;
    }
    // Bytes before the fault inside this chunk were read; keep those the implementation reported valid.
    if (got > 0 && got < n) this.filled += got;
    return this.stop(FetchFault.PF, lo + got, hi);
  }

  /** Record why the fetch stopped and where; returns false for {@link fill}. */
  private stop(fault: FetchFault, lo: number, hi: number): false {
    this.fault = fault;
    this.faultLo = lo;
    this.faultHi = hi;
    return false;
  }
}
