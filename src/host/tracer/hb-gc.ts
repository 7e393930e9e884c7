/**
 * Keeping the tracer worker's memory bounded while a guest streams high-bandwidth messages, without paying a full
 * collection for every few megabytes.
 *
 * V8 frees the buffer behind a finished transfer (a reply, a message) only when a collection finds it dead, and it
 * starts one for such external memory only after ≈ 64 MiB of it. Most of that garbage dies young (an `info-get`
 * reply lives for one exchange), which a scavenge frees for a fraction of a full collection's cost, and freed
 * buffers are reused while still in cache. So: a scavenge after every {@link HB_BYTES_PER_SCAVENGE} bytes moved
 * over HB, and a full collection only when the heap plus external memory has grown by more than
 * {@link GROWTH_FOR_FULL_GC} since the last one (what a long `info-set` flood under `--state` leaves behind: values
 * and snapshots promoted to the old generation). Measured in `docs/performance.md`.
 * Emulates: nothing. Source of truth: `docs/performance.md` (peak RSS and HB figures for each policy).
 * Does not: bound memory that is still referenced (the engine's own bounds do that).
 */
import { getHeapStatistics } from "node:v8";

/** HB bytes between two scavenges. */
export const HB_BYTES_PER_SCAVENGE = 1024 * 1024;
/** Growth of heap + external memory since the last full collection that makes the next scavenge a full one. */
export const GROWTH_FOR_FULL_GC = 4 * 1024 * 1024;

/** `gc()` as `--expose-gc` provides it. */
export type GcFunction = (options?: { type: "minor" | "major" }) => void;

/** Heap in use plus external (ArrayBuffer) memory, in bytes. */
function retained(): number {
  const s = getHeapStatistics();
  return s.used_heap_size + s.external_memory;
}

/** Counters of the collector. */
export interface HbGcCounters {
  /** Scavenges asked for (one per {@link HB_BYTES_PER_SCAVENGE} bytes moved over HB). */
  scavenges: number;
  /** Full collections asked for (retained memory grew by {@link GROWTH_FOR_FULL_GC}). */
  fullCollections: number;
}

/** Decides when to collect, from the HB byte count. */
export class HbCollector {
  /** Collections asked for so far. */
  readonly counters: HbGcCounters = { scavenges: 0, fullCollections: 0 };
  private next = HB_BYTES_PER_SCAVENGE;
  private base = retained();

  constructor(private readonly gc: GcFunction) {}

  /** `hbBytes`: bytes moved over HB so far (both directions). Cheap when no collection is due. */
  onTraffic(hbBytes: number): void {
    if (hbBytes <= this.next) return;
    this.next = hbBytes + HB_BYTES_PER_SCAVENGE;
    this.gc({ type: "minor" });
    this.counters.scavenges++;
    if (retained() <= this.base + GROWTH_FOR_FULL_GC) return;
    this.gc();
    this.counters.fullCollections++;
    this.base = retained();
  }
}
