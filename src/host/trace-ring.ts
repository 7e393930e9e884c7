/**
 * The ring that carries backdoor-call records from the tracer worker to the main thread: shared memory, one writer,
 * one reader, no message per access.
 *
 * Emulates: nothing. Why: a `postMessage` per trap costs about as much as the trap itself, and a worker blocked in
 * `waitpid` between traps must not wait for anyone. The worker copies each access into a fixed slot of
 * {@link TRACE_WORDS} words (`vm/trace.ts` `encodeTrace`) and publishes it with one atomic store; the main thread
 * polls while someone listens and rebuilds the records (`decodeTrace`), off the trap path.
 * Bound: {@link TRACE_RING_SLOTS} records waiting; when the reader is that far behind, new records are dropped and
 * counted (the reader collects the count with the records).
 * Layout: 4 Int32 header words — records written, records read (both counting up, wrapping at 2^32), records
 * dropped since the reader last looked, unused — then the slots.
 * Time: each record's time is the host's wall clock (epoch time at creation plus `process.hrtime`), taken when the
 * record is written.
 * Does not: block either side, or order records across two rings.
 */
import { TRACE_WORDS, decodeTrace, encodeTrace, type TraceAccess, type TraceRecord } from "../vm/trace.js";

/** Slots in a ring (a power of two): about 1.4 MiB of shared memory per session. */
export const TRACE_RING_SLOTS = 8192;
const HEADER = 4;
const H_WRITE = 0;
const H_READ = 1;
const H_DROPPED = 2;

/** A new ring's shared memory. */
export function createTraceRing(slots = TRACE_RING_SLOTS): SharedArrayBuffer {
  if (slots <= 0 || (slots & (slots - 1)) !== 0) throw new RangeError("trace ring slots must be a power of two");
  return new SharedArrayBuffer((HEADER + slots * TRACE_WORDS) * 4);
}

function slotsOf(buf: SharedArrayBuffer): number {
  return (buf.byteLength / 4 - HEADER) / TRACE_WORDS;
}

/** The worker's side. */
export class TraceRingWriter {
  private readonly head: Int32Array;
  private readonly words: Uint32Array;
  private readonly mask: number;
  // Wall-clock time without BigInt: the epoch time at creation plus `process.hrtime` since then.
  private readonly hr0 = process.hrtime();
  private readonly baseSec: number;
  private readonly baseNs: number;

  /** A writer on `buf` (made by {@link createTraceRing}), shared with one reader in another thread. */
  constructor(buf: SharedArrayBuffer) {
    this.head = new Int32Array(buf, 0, HEADER);
    this.words = new Uint32Array(buf, HEADER * 4);
    this.mask = slotsOf(buf) - 1;
    const ms = Date.now();
    this.baseSec = Math.floor(ms / 1000);
    this.baseNs = (ms % 1000) * 1_000_000;
  }

  /** The `vm.trace` listener: copy the access into the next slot, or count it dropped when the ring is full. */
  readonly write = (a: TraceAccess): void => {
    const w = this.head[H_WRITE]!; // only this thread writes it
    if (((w - Atomics.load(this.head, H_READ)) | 0) > this.mask) {
      Atomics.add(this.head, H_DROPPED, 1);
      return;
    }
    const d = process.hrtime(this.hr0);
    let ns = this.baseNs + d[1];
    let sec = this.baseSec + d[0];
    if (ns >= 1_000_000_000) {
      ns -= 1_000_000_000;
      sec++;
    }
    encodeTrace(a, sec, ns, this.words, (w & this.mask) * TRACE_WORDS);
    Atomics.store(this.head, H_WRITE, (w + 1) | 0);
  };
}

/** The main thread's side. */
export class TraceRingReader {
  private readonly head: Int32Array;
  private readonly words: Uint32Array;
  private readonly mask: number;

  /** A reader on `buf` (made by {@link createTraceRing}), shared with the writer's thread. */
  constructor(buf: SharedArrayBuffer) {
    this.head = new Int32Array(buf, 0, HEADER);
    this.words = new Uint32Array(buf, HEADER * 4);
    this.mask = slotsOf(buf) - 1;
  }

  /**
   * The newest `max` records waiting (all when fewer), oldest first, and how many were dropped since the last call:
   * by the writer (the ring was full) and here (older than the newest `max`, skipped without being decoded).
   */
  read(max = Infinity): { records: TraceRecord[]; dropped: number } {
    const w = Atomics.load(this.head, H_WRITE);
    let r = this.head[H_READ]!; // only this thread writes it
    const waiting = (w - r) | 0;
    const skipped = waiting > max ? waiting - max : 0;
    r = (r + skipped) | 0;
    const records: TraceRecord[] = [];
    while (r !== w) {
      records.push(decodeTrace(this.words, (r & this.mask) * TRACE_WORDS));
      r = (r + 1) | 0;
    }
    Atomics.store(this.head, H_READ, r); // the slots read may now be written again
    return { records, dropped: Atomics.exchange(this.head, H_DROPPED, 0) + skipped };
  }

  /** Skip everything waiting (nobody listens any more); returns how many records that was. */
  skip(): number {
    const w = Atomics.load(this.head, H_WRITE);
    const n = (w - this.head[H_READ]!) | 0;
    Atomics.store(this.head, H_READ, w);
    Atomics.exchange(this.head, H_DROPPED, 0);
    return n;
  }
}
