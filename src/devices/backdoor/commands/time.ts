/**
 * Time and clock commands: GETMHZ (1), GETTIME (23), GETHZ (45), GETTIMEFULL (46), GETTIMEFULL_WITH_LAG (55).
 *
 * Source of truth: open-vm-tools `services/plugins/timeSync/timeSync.c` and `toolbox/toolboxcmd-stat.c`
 * (55 → 46 → 23 fallback; 46/55 succeed iff EAX is still the magic); Xen vmware_port series (GETTIME EDX =
 * time offset in minutes; GETHZ only at CPL 0); Linux `arch/x86/kernel/cpu/vmware.c` (GETHZ); `docs/protocol.md` §3.
 * Does not: model interrupt lag (GETTIMEFULL_WITH_LAG reports 0 µs) or catch-up.
 */
import { BdoorCmd, BDOOR_FAIL } from "../constants.js";
import type { CommandContext, CommandHandler, CommandRegistry } from "../command-registry.js";

const NS_PER_US = 1000n;
const US_PER_S = 1_000_000n;

/** UTC time as whole seconds (bigint) and the µs within the second; clamps times before 1970 to 0. */
function hostTime(ctx: CommandContext): { secs: bigint; us: number } {
  let totalUs = ctx.clock.realtimeNs() / NS_PER_US;
  if (totalUs < 0n) totalUs = 0n;
  return { secs: totalUs / US_PER_S, us: Number(totalUs % US_PER_S) };
}

/** GETMHZ: EAX = CPU speed in MHz. */
export const getMhz: CommandHandler = (_f, ctx, out) => out.eax(ctx.profile.cpuMhz);

/**
 * GETTIME (deprecated): EAX = UTC seconds (0xFFFFFFFF once they no longer fit: "136-year overflow"),
 * EBX = µs, ECX = max time lag µs, EDX = the guest RTC's offset from UTC in minutes.
 */
export const getTime: CommandHandler = (_f, ctx, out) => {
  const t = hostTime(ctx);
  return out
    .eax(t.secs >= 0xffffffffn ? BDOOR_FAIL : Number(t.secs))
    .ebx(t.us)
    .ecx(ctx.profile.maxTimeLagUs)
    .edx(Math.trunc(ctx.profile.timeOffsetSeconds / 60));
};

/** GETTIMEFULL: EAX untouched (= magic, the success signal), ESI:EDX = seconds, EBX = µs, ECX = max lag. */
export const getTimeFull: CommandHandler = (_f, ctx, out) => {
  const t = hostTime(ctx);
  return out
    .edx(Number(t.secs & 0xffffffffn))
    .esi(Number(t.secs >> 32n))
    .ebx(t.us)
    .ecx(ctx.profile.maxTimeLagUs);
};

/** GETTIMEFULL_WITH_LAG: as GETTIMEFULL, plus EDI = interrupt lag µs (0: vmport never delays timer interrupts). */
export const getTimeFullWithLag: CommandHandler = (f, ctx, out) => getTimeFull(f, ctx, out)!.edi(0);

/**
 * GETHZ: EAX:EBX = TSC Hz (low:high), ECX = APIC bus Hz. Only at CPL 0 unless the profile says otherwise;
 * from ring 3 it answers as unknown (EAX = 0xFFFFFFFF), as Xen measured on ESXi.
 */
export const getHz: CommandHandler = (f, ctx, out) => {
  if (ctx.profile.gethzCpl0Only && f.cpl !== 0) return null;
  const hz = ctx.profile.tscHz;
  return out
    .eax(hz % 0x1_0000_0000)
    .ebx(Math.floor(hz / 0x1_0000_0000))
    .ecx(ctx.profile.apicBusHz);
};

/** Register this family. */
export function registerTimeCommands(r: CommandRegistry): void {
  r.register(BdoorCmd.GETMHZ, "GETMHZ", getMhz);
  r.register(BdoorCmd.GETTIME, "GETTIME", getTime);
  r.register(BdoorCmd.GETHZ, "GETHZ", getHz);
  r.register(BdoorCmd.GETTIMEFULL, "GETTIMEFULL", getTimeFull);
  r.register(BdoorCmd.GETTIMEFULL_WITH_LAG, "GETTIMEFULL_WITH_LAG", getTimeFullWithLag);
}
