/**
 * Instruction fetch for the #GP intercept: page-split, lazy, each byte read once.
 *
 * Emulates: what a hypervisor must do when the exit gives no instruction bytes — read the faulting instruction
 * from guest memory. The first read goes from RIP to the end of its page (at most 15 bytes, or the exit's length
 * hint); the next page is read only if the decoder asks for a byte there. No byte is read twice, so a guest that
 * rewrites the instruction from another vCPU cannot make the decoder see two different versions (the Xen review's
 * "memory may change between the reads").
 * Source of truth: Xen vmware_port review (v6: "always look at up to 15 bytes"); VMX exit instruction length
 * (SDM vol. 3 §28.2.5) is a hint, SVM gives none.
 * Does not: translate addresses (the {@link GuestMemory} does) or wrap a 16-bit IP inside one instruction.
 */
import { MAX_INSTRUCTION_LENGTH, type ByteSource } from "./decoder.js";
import { MEMORY_OK, PAGE_SIZE, type GuestMemory } from "./guest-memory.js";

/** A reusable fetcher: `begin()` per exit, then hand it to the decoder as its {@link ByteSource}. */
export class InstructionFetcher implements ByteSource {
  /** The bytes fetched so far. */
  readonly buffer = new Uint8Array(MAX_INSTRUCTION_LENGTH);
  /** How many bytes of {@link buffer} are valid. */
  filled = 0;
  /** Linear address of the first byte that could not be read, or -1. */
  faultAddress = -1;
  /** Number of `GuestMemory.read` calls made for the current instruction. */
  reads = 0;
  private mem: GuestMemory | null = null;
  private base = 0;
  private hint = MAX_INSTRUCTION_LENGTH;

  /**
   * Start fetching the instruction at linear address `linearIp`.
   * @param lengthHint - instruction length reported by the exit (VMX), or 0 when unknown (SVM, ptrace)
   */
  begin(mem: GuestMemory, linearIp: number, lengthHint = 0): void {
    this.mem = mem;
    this.base = linearIp;
    this.filled = 0;
    this.faultAddress = -1;
    this.reads = 0;
    this.hint = lengthHint > 0 && lengthHint <= MAX_INSTRUCTION_LENGTH ? lengthHint : MAX_INSTRUCTION_LENGTH;
    this.fill(); // the decoder always needs byte 0: read the first chunk now
  }

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
    if (this.faultAddress >= 0 || this.filled >= MAX_INSTRUCTION_LENGTH || this.mem === null) return false;
    const addr = this.base + this.filled;
    const limit = this.filled < this.hint ? this.hint : MAX_INSTRUCTION_LENGTH;
    // `& (PAGE_SIZE - 1)` is exact for any integer address below 2^53 (ToInt32 keeps the low 32 bits).
    const pageLeft = PAGE_SIZE - (addr & (PAGE_SIZE - 1));
    const n = Math.min(limit - this.filled, pageLeft);
    this.reads++;
    const r = this.mem.read(addr, this.buffer, this.filled, n);
    if (r !== MEMORY_OK) {
      this.faultAddress = r;
      // Bytes before the fault inside this chunk were read; keep those that the implementation reported valid.
      const good = r - addr;
      if (good > 0 && good < n) this.filled += good;
      return false;
    }
    this.filled += n;
    return true;
  }
}
