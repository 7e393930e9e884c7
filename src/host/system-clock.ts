/**
 * The host's real clocks, for front ends.
 *
 * Emulates: nothing; reads Node's nanosecond clocks so GETTIME/GETTIMEFULL and the pseudo-PMCs have µs/ns
 * resolution outside tests.
 * Does not: belong to the engine (which cannot see Node); it is injected through the engine's `Clock` interface.
 */
import type { Clock } from "../core/clock.js";

/** Wall clock from `Date.now()` refined with `process.hrtime` between milliseconds; monotonic from `hrtime`. */
export class SystemClock implements Clock {
  private readonly baseReal = BigInt(Date.now()) * 1_000_000n;
  private readonly baseMono = process.hrtime.bigint();

  /** Wall time in ns since the Unix epoch: `Date.now()` at creation plus `hrtime` since. */
  realtimeNs(): bigint {
    return this.baseReal + (process.hrtime.bigint() - this.baseMono);
  }

  /** `process.hrtime` in ns. */
  monotonicNs(): bigint {
    return process.hrtime.bigint();
  }
}
