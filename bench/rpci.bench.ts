/**
 * RPCI round trips in process: `info-set` / `info-get` of 1 KiB and 60 KiB values, over LB (4 bytes per
 * SENDPAYLOAD/RECVPAYLOAD call) and over HB (one `rep outsb` / `rep insb`), each a full vmware-rpctool style
 * exchange (OPEN, SENDSIZE, payload, RECVSIZE, reply, RECVSTATUS, CLOSE) executed as guest instructions through the
 * #GP intercept. Baseline: `Uint8Array.set` of the same number of bytes, in the same run.
 */
import { measure, do_not_optimize } from "mitata";
import { VirtualClock } from "../src/core/clock.js";
import { SeededRandom } from "../src/core/random.js";
import { VirtualMachine } from "../src/vm/virtual-machine.js";
import { Guest, rpcOne } from "../src/test-support/backdoor-client.js";

/** One row of the RPCI table. */
export interface RpciFigure {
  op: "info-set" | "info-get";
  bytes: number;
  transport: "LB" | "HB";
  roundTripsPerSec: number;
  mbPerSec: number;
  baselineMbPerSec: number;
}

async function nsPer(fn: () => void): Promise<number> {
  const s = await measure(fn, { min_cpu_time: 300e6 });
  return s.p50;
}

/** Run the RPCI benchmark. */
export async function benchRpci(): Promise<RpciFigure[]> {
  const out: RpciFigure[] = [];
  for (const bytes of [1024, 60 * 1024]) {
    const value = "v".repeat(bytes);
    const src = new Uint8Array(bytes).fill(0x76);
    const dst = new Uint8Array(bytes);
    const baseNs = await nsPer(() => {
      dst.set(src);
      do_not_optimize(dst);
    });
    const baselineMbPerSec = (bytes / baseNs) * 1e3; // bytes per ns × 1000 = MB/s
    for (const transport of ["LB", "HB"] as const) {
      const vm = new VirtualMachine({
        profile: { highBandwidth: transport === "HB" },
        clock: new VirtualClock(),
        random: new SeededRandom(3),
      });
      const g = new Guest(vm);
      g.recordTranscript = false;
      const set = `info-set guestinfo.bench ${value}`;
      if (rpcOne(g, set) !== "1 ") throw new Error("info-set failed");
      if (rpcOne(g, "info-get guestinfo.bench") !== "1 " + value) throw new Error("info-get failed");
      for (const op of ["info-set", "info-get"] as const) {
        const ns = await nsPer(() => do_not_optimize(rpcOne(g, op === "info-set" ? set : "info-get guestinfo.bench")));
        out.push({ op, bytes, transport, roundTripsPerSec: 1e9 / ns, mbPerSec: (bytes / ns) * 1e3, baselineMbPerSec });
      }
    }
  }
  return out;
}
