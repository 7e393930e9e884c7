/**
 * Where the tracer thread and the traced threads run. Every trap is two wake-ups (the stopped thread wakes the
 * tracer, the tracer's resume wakes the thread); on a virtual machine a wake-up from one CPU to another costs tens
 * of microseconds, several times the rest of the trap, so where the threads sit sets the trap cost.
 *
 * Policies (the measurements behind the default are in `docs/performance.md`, the design in `docs/tracer.md` §8):
 * - `follow` (the default): while the program is one thread, that thread follows the tracer thread — at a stop
 *   seen on another CPU than the one the thread was last placed on, the thread's affinity becomes the tracer's
 *   CPU, so the two wake each other on one CPU. The tracer itself stays free: when the scheduler moves it (its CPU
 *   got busy), the thread follows at its next stop. As soon as the program has a second thread or process, every
 *   thread vmport placed gets its affinity back and the scheduler spreads them (no serialisation of a
 *   multi-threaded program); back to one thread, following resumes.
 * - `pin` (`--pin CPU`): the tracer thread and the program (inherited by every child and thread) on one CPU.
 * - `none`: nothing is changed (the kernel decides).
 * A thread whose affinity the program itself changed (`sched_setaffinity`, `taskset` inside the guest) is left
 * alone from then on: vmport only ever replaces a mask it set or the one the thread started with.
 * Emulates: nothing. Source of truth: `sched_setaffinity(2)`; `docs/performance.md` (the policy's numbers).
 * Does not: pin anything to a CPU outside the set vmport itself was allowed at start.
 */
import type { Libc } from "../ptrace/libc.js";
import type { Stepper } from "./step.js";

/** A placement policy. */
export type PlacementPolicy = { mode: "pin"; cpu: number } | { mode: "follow" } | { mode: "none" };

/** Bytes of a CPU mask (1024 CPUs). */
const MASK_BYTES = 128;

/** Counters of the placement. */
export interface PlacementCounters {
  /** Times a thread was moved to the tracer's CPU. */
  follows: number;
  /** Times the program went from one thread to several (every placed thread released). */
  releases: number;
  /** Threads left alone because the program set their affinity itself. */
  ownAffinity: number;
}

/** The placement of one run. */
export class Placement {
  readonly counters: PlacementCounters = { follows: 0, releases: 0, ownAffinity: 0 };
  /** The mask vmport was given at start: what every thread gets back. */
  private readonly startMask = new Uint8Array(MASK_BYTES);
  private startMaskSize = 0;
  private readonly scratch = new Uint8Array(MASK_BYTES);
  /** Live tracees. */
  private readonly live = new Set<number>();
  /** Threads vmport placed: tid → CPU. */
  private readonly placed = new Map<number, number>();
  /** Threads that set their own affinity. */
  private readonly own = new Set<number>();

  constructor(
    private readonly c: Libc,
    readonly policy: PlacementPolicy,
    private readonly step: Stepper,
  ) {
    const n = c.schedGetaffinity(0, MASK_BYTES, this.startMask);
    this.startMaskSize = n > 0 ? n : 0;
  }

  private setMask(tid: number, cpu: number | null): boolean {
    if (cpu === null) {
      if (this.startMaskSize === 0) return false;
      return this.c.schedSetaffinity(tid, this.startMaskSize, this.startMask) === 0;
    }
    const m = this.scratch.fill(0);
    m[cpu >> 3] = 1 << (cpu & 7);
    return this.c.schedSetaffinity(tid, MASK_BYTES, m) === 0;
  }

  /** Whether `tid`'s mask is still the one vmport set (`cpu`), or the start mask when `cpu` is null. */
  private maskIs(tid: number, cpu: number | null): boolean {
    const m = this.scratch.fill(0);
    const n = this.c.schedGetaffinity(tid, MASK_BYTES, m);
    if (n <= 0) return false;
    if (cpu === null) {
      for (let i = 0; i < n; i++) if (m[i] !== (i < this.startMaskSize ? this.startMask[i] : 0)) return false;
      return true;
    }
    for (let i = 0; i < n; i++) if (m[i] !== (i === cpu >> 3 ? 1 << (cpu & 7) : 0)) return false;
    return true;
  }

  /** Before the program is spawned (the spawned trampoline inherits the tracer thread's mask). */
  beforeSpawn(): void {
    if (this.policy.mode === "pin") this.setMask(0, this.policy.cpu);
  }

  /** The root program was spawned and seized. */
  afterSpawn(root: number): void {
    if (this.policy.mode === "pin") this.setMask(root, this.policy.cpu);
    this.live.add(root);
  }

  /** A stop of `tid`, seen by the tracer thread on `cpu` (-1: unknown). */
  onStop(tid: number, cpu: number): void {
    if (this.policy.mode !== "follow" || cpu < 0 || this.live.size > 1) return;
    const at = this.placed.get(tid);
    if (at === cpu || this.own.has(tid)) return;
    // The first placement replaces the start mask, later ones the mask vmport set; anything else is the program's.
    if (!this.maskIs(tid, at ?? null)) {
      this.own.add(tid);
      this.counters.ownAffinity++;
      return;
    }
    if (this.setMask(tid, cpu)) {
      this.placed.set(tid, cpu);
      this.counters.follows++;
    }
  }

  /** A fork, vfork or clone event: `child` is a new tracee. */
  onNewTask(_parent: number, child: number): void {
    this.live.add(child);
    if (this.policy.mode !== "follow") return;
    // The child inherited its parent's mask: a placed parent's is vmport's, so it counts as placed too.
    const parentCpu = this.placed.get(_parent);
    if (parentCpu !== undefined) this.placed.set(child, parentCpu);
    if (this.live.size === 2 && this.placed.size > 0) this.release();
  }

  /** Give every thread vmport placed the start mask back. */
  private release(): void {
    this.counters.releases++;
    for (const [tid, cpu] of this.placed) if (this.maskIs(tid, cpu)) this.setMask(tid, null);
    this.placed.clear();
  }

  /** `tid` exited. */
  onExit(tid: number): void {
    this.live.delete(tid);
    this.placed.delete(tid);
    this.own.delete(tid);
  }
}
