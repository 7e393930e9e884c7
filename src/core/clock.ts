/**
 * Time sources for the engine.
 *
 * Emulates: the host clock a VMware VMX reads when answering GETTIME/GETTIMEFULL and the pseudo-PMCs.
 * Source of truth: `docs/protocol.md` §3 (time commands) and §9 (RDPMC pseudo-counters).
 * Does not: read any OS clock with better than millisecond resolution — the engine cannot see Node; front ends
 * inject a high-resolution clock (`host/system-clock.ts`). Tests inject {@link VirtualClock}.
 */

/** A clock the engine reads. Both values are nanoseconds as bigint. */
export interface Clock {
  /** Wall-clock time, UTC nanoseconds since the Unix epoch. */
  realtimeNs(): bigint;
  /** A monotonic time in nanoseconds from an arbitrary origin; never goes backwards. */
  monotonicNs(): bigint;
}

/** A clock that moves only when told to: deterministic tests. */
export class VirtualClock implements Clock {
  private real: bigint;
  private mono: bigint;

  /**
   * @param startRealtimeNs - initial UTC time in ns (default 2026-11-25T00:00:00Z)
   * @param startMonotonicNs - initial monotonic reading (default 1 s, so "elapsed" arithmetic is visible)
   */
  constructor(startRealtimeNs = 1_795_564_800_000_000_000n, startMonotonicNs = 1_000_000_000n) {
    this.real = startRealtimeNs;
    this.mono = startMonotonicNs;
  }

  /** Move both clocks forward by `ns` (must be ≥ 0). */
  advance(ns: bigint): void {
    if (ns < 0n) throw new RangeError("VirtualClock cannot go backwards");
    this.real += ns;
    this.mono += ns;
  }

  /** Step the wall clock only (as an NTP step would); monotonic time is unaffected. */
  setRealtime(ns: bigint): void {
    this.real = ns;
  }

  /** The wall time set last, in ns since the Unix epoch. */
  realtimeNs(): bigint {
    return this.real;
  }

  /** The monotonic time set or advanced last, in ns. */
  monotonicNs(): bigint {
    return this.mono;
  }
}

/**
 * A clock built only on ECMAScript's `Date` (millisecond resolution). The engine's default when a front end
 * injects nothing; monotonicity is enforced by never returning a smaller value than before.
 */
export class DateClock implements Clock {
  private last = 0n;

  /** `Date.now()` in ns since the Unix epoch (millisecond steps). */
  realtimeNs(): bigint {
    return BigInt(Date.now()) * 1_000_000n;
  }

  /** `Date.now()` in ns, never less than a value returned before. */
  monotonicNs(): bigint {
    const now = BigInt(Date.now()) * 1_000_000n;
    if (now > this.last) this.last = now;
    return this.last;
  }
}
