/**
 * Identity and capability commands: GETVERSION (10), GETHWVERSION (17), GETUUID (19), GETMEMSIZE (20),
 * NESTING_CONTROL (63), GET_VCPU_INFO (68), GETBUILDNUM (100).
 *
 * Source of truth: open-vm-tools `lib/vmCheck/vmcheck.c`, `lib/misc/hostinfoHV.c`; QEMU `hw/i386/vmport.c`;
 * Xen vmware_port series (GETHWVERSION default); `docs/protocol.md` §3.
 * Does not: implement NESTING_CONTROL's RESTRICT_BACKDOOR/OPEN_BACKDOOR (answered as unknown), or QEMU's
 * GETMEMSIZE EBX = 0x1177 quirk.
 */
import { BDOOR_MAGIC, BdoorCmd, DEFAULT_HW_VERSION, NestingControl } from "../constants.js";
import type { CommandRegistry, CommandHandler } from "../command-registry.js";

/** GETVERSION: EAX = version (6), EBX = magic, ECX = product type (the whole register). */
export const getVersion: CommandHandler = (_f, ctx, out) => out.eax(ctx.profile.vmxVersion).ebx(BDOOR_MAGIC).ecx(ctx.profile.vmxType);

/** GETHWVERSION: EAX = hardware version (4 when the profile sets none), EBX = magic (open-vm-tools checks it). */
export const getHwVersion: CommandHandler = (_f, ctx, out) => out.eax(ctx.profile.hwVersion ?? DEFAULT_HW_VERSION).ebx(BDOOR_MAGIC);

/** The 16 bytes of a canonical UUID string, in textual order. */
export function uuidBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** GETUUID: EAX, EBX, ECX, EDX = UUID bytes 0–3, 4–7, 8–11, 12–15, each a little-endian dword (QEMU's layout). */
export const getUuid: CommandHandler = (_f, ctx, out) => {
  const b = uuidBytes(ctx.profile.uuid);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return out.eax(dv.getUint32(0, true)).ebx(dv.getUint32(4, true)).ecx(dv.getUint32(8, true)).edx(dv.getUint32(12, true));
};

/** GETMEMSIZE: EAX = guest memory in MB (VMware's unit; upstream QEMU's bytes are wrong above 4 GiB). */
export const getMemSize: CommandHandler = (_f, ctx, out) => out.eax(ctx.profile.memSizeMb);

/** NESTING_CONTROL: only QUERY (ECX high = 2) is answered, with the profile's version in EAX. */
export const nestingControl: CommandHandler = (f, ctx, out) =>
  f.ecx >>> 16 === NestingControl.QUERY ? out.eax(ctx.profile.nestingControlVersion) : null;

/** GET_VCPU_INFO: EAX = feature bits (bit 31 clear = implemented). */
export const getVcpuInfo: CommandHandler = (_f, ctx, out) => out.eax(ctx.profile.vcpuInfo);

/** GETBUILDNUM: EAX = host build number. */
export const getBuildNum: CommandHandler = (_f, ctx, out) => out.eax(ctx.profile.buildNumber);

/** Register this family. */
export function registerIdentityCommands(r: CommandRegistry): void {
  r.register(BdoorCmd.GETVERSION, "GETVERSION", getVersion);
  r.register(BdoorCmd.GETHWVERSION, "GETHWVERSION", getHwVersion);
  r.register(BdoorCmd.GETUUID, "GETUUID", getUuid);
  r.register(BdoorCmd.GETMEMSIZE, "GETMEMSIZE", getMemSize);
  r.register(BdoorCmd.NESTING_CONTROL, "NESTING_CONTROL", nestingControl);
  r.register(BdoorCmd.GET_VCPU_INFO, "GET_VCPU_INFO", getVcpuInfo);
  r.register(BdoorCmd.GETBUILDNUM, "GETBUILDNUM", getBuildNum);
}
