/**
 * The standard RPCI commands: guestinfo, logging, tools status and capabilities, guest info reports, guestlib
 * (`guestlib.info.get`, `guestlib.stat.get`), `machine.id.get`, `disk.wiper.enable`, `tools.vmsupport.status`
 * and the namespace database (`namespace-priv-set-keys`, `namespace-priv-get-values`).
 *
 * Emulates: what a VMware VMX answers to the requests real clients send (`docs/protocol.md` §5, `docs/clients.md`).
 * Replies that clients compare as text are exact: `"0 No value found"` (cloud-init), `"0 Unknown command"`
 * (libguestlib). Reports the guestInfo plugin sends are answered `"1 "` with empty text — the plugin counts only
 * an empty reply as "updated" and otherwise falls back to older formats.
 * Source of truth: open-vm-tools stable-12.2.0 (`services/vmtoolsd/toolsRpc.c`, `services/plugins/guestInfo/`,
 * `libguestlib/vmGuestLib.c`, `toolbox/toolboxcmd-shrink.c` (`disk.wiper.enable`: `"1"` is enabled, any other
 * success disabled, a failure unavailable), `xferlogs/xferlogs.c` + `lib/include/vmsupport.h`
 * (`tools.vmsupport.status N`)); QEMU vmport_rpc's refusal texts for guestinfo limits; `machine.id.get` answers the
 * `.vmx`'s `machine.id` (VMware Lab Manager and GSX documentation: `vmware-guestd --cmd machine.id.get`).
 * Does not: act on anything (no power operations, no time sync); `vmx.set_option synctime` only flips the GUI
 * option bit that `vmware-toolbox-cmd timesync status` reads.
 */
import type { Clock } from "../core/clock.js";
import { fromUtf8, utf8 } from "../core/text.js";
import type { VmProfile } from "../devices/profile.js";
import type { BackdoorState } from "../devices/backdoor/backdoor-state.js";
import { GuiOption, VmxType } from "../devices/backdoor/constants.js";
import { uuidBytes } from "../devices/backdoor/commands/identity.js";
import { GUESTINFO_REFUSALS, GuestinfoStore } from "./guestinfo-store.js";
import type { ReportedState } from "./reported-state.js";
import {
  GuestInfoType,
  decodeDiskInfoJson,
  decodeDiskInfoV0,
  decodeNicInfoV1,
  decodeNicInfoV3,
  decodeOsDetailed,
  splitSetGuestInfo,
  textValue,
} from "./setguestinfo-reports.js";
import { reply, type RpciDispatcher, type RpciReply, type RpciRequest } from "./rpci-dispatcher.js";
import type { NamespaceDb } from "./namespace-db.js";
import { answerStatGet } from "./guest-stats.js";
import type { NicReport } from "./setguestinfo-reports.js";
import type { VmsupportStatus } from "./reported-state.js";

/** What the standard handlers work on. */
export interface RpciContext {
  /** The VM profile. */
  profile: VmProfile;
  /** The VM clock. */
  clock: Clock;
  /** The guestinfo variables. */
  guestinfo: GuestinfoStore;
  /** The host's model of what the guest reported; reports update it. */
  reported: ReportedState;
  /** The LB device's state (GUI options for `vmx.set_option synctime`), or null without a backdoor. */
  backdoorState: BackdoorState | null;
  /** VM start on the monotonic clock (guestlib elapsed time). */
  startMonotonicNs: bigint;
  /** The namespace database. */
  namespaces: NamespaceDb;
}

/** `"0 No value found"`: cloud-init compares this text. */
export const NO_VALUE_FOUND = "No value found";
/** Size of the `guestlib.info.get 2` payload after `"1 "`. */
export const GUESTLIB_V2_SIZE = 669;

/** Register every standard handler on `d`. */
export function registerStandardRpci(d: RpciDispatcher, ctx: RpciContext): void {
  d.register("info-get", (req) => infoGet(req, ctx));
  d.register("info-set", (req) => infoSet(req, ctx));
  d.register("log", (req) => {
    ctx.reported.log(req.argsText);
    return reply.ok();
  });
  d.register("tools.set.version", (req) => {
    const v = parseUint(req.argsText.trim());
    if (v === null) return reply.fail("Invalid version");
    ctx.reported.set("toolsVersion", v);
    ctx.reported.set("toolsRunning", true);
    return reply.ok();
  });
  d.register("tools.set.versiontype", (req) => {
    const [a, b] = req.argsText.trim().split(/\s+/);
    const v = parseUint(a ?? "");
    const t = parseUint(b ?? "");
    if (v === null || t === null) return reply.fail("Invalid arguments");
    ctx.reported.set("toolsVersion", v);
    ctx.reported.set("toolsVersionType", t);
    ctx.reported.set("toolsRunning", true);
    return reply.ok();
  });
  d.register("tools.capability.*", (req) => {
    ctx.reported.setCapability(req.name, req.argsText);
    return reply.ok();
  });
  d.register("vmx.capability.unified_loop", (req) => {
    ctx.reported.setCapability(req.name, req.argsText);
    return reply.ok();
  });
  d.register("tools.os.statechange.status", (req) => {
    const [ok, state] = req.argsText.trim().split(/\s+/);
    ctx.reported.set("osStateChange", { success: ok === "1", state: parseUint(state ?? "") ?? 0 });
    return reply.ok();
  });
  d.register("vmx.set_option", (req) => vmxSetOption(req, ctx));
  d.register("SetGuestInfo", (req) => setGuestInfo(req, ctx), { binary: true });
  d.register("SetGuestDiskInfo", (req) => {
    const disks = decodeDiskInfoJson(req.args);
    if (disks === null) return reply.fail("Invalid disk info");
    ctx.reported.set("disks", disks);
    return reply.ok();
  });
  d.register("guestlib.info.get", (req) => guestlibInfo(req, ctx));
  d.register("guestlib.stat.get", (req) => {
    if (ctx.profile.vmxType !== VmxType.SCALABLE_SERVER) return reply.unknown();
    const uptimeUs = (ctx.clock.monotonicNs() - ctx.startMonotonicNs) / 1000n;
    const r = answerStatGet(req.argsText, { profile: ctx.profile, sessionId: guestlibSessionId(ctx.profile), uptimeUs });
    return r.ok ? reply.ok(r.text) : reply.fail(r.text);
  });
  d.register("machine.id.get", () => reply.ok(ctx.profile.machineId ?? ""));
  d.register("disk.wiper.enable", () => {
    const w = ctx.profile.diskWiper ?? (ctx.profile.vmxType === VmxType.SCALABLE_SERVER ? "disabled" : "enabled");
    return w === "unavailable" ? reply.unknown() : reply.ok(w === "enabled" ? "1" : "0");
  });
  d.register("tools.vmsupport.status", (req) => {
    const t = req.argsText.trim();
    if (!/^-?\d{1,10}$/.test(t) || Math.abs(Number(t)) > 0x7fffffff) return reply.fail("Invalid status");
    ctx.reported.set("vmsupportStatus", vmsupportStatus(Number(t)));
    return reply.ok();
  });
  d.register(
    "namespace-priv-set-keys",
    (req) => {
      const refusal = ctx.namespaces.setKeys(req.args);
      return refusal === null ? reply.ok() : reply.fail(refusal);
    },
    { binary: true },
  );
  d.register(
    "namespace-priv-get-values",
    (req) => {
      const r = ctx.namespaces.getValues(req.args);
      return r.ok ? reply.ok(r.reply) : reply.fail(r.refusal);
    },
    { binary: true },
  );
  d.register("guest.log.*", (req) => {
    if (req.name === "guest.log.text") ctx.reported.log(req.argsText);
    return reply.ok();
  });
}

function parseUint(s: string): number | null {
  return /^\d{1,10}$/.test(s) && Number(s) <= 0xffffffff ? Number(s) : null;
}

/** `info-get guestinfo.KEY` → `"1 VALUE"` or `"0 No value found"`. */
function infoGet(req: RpciRequest, ctx: RpciContext): RpciReply {
  const key = fromUtf8(req.args).trim();
  const v = GuestinfoStore.isGuestinfoKey(key) ? ctx.guestinfo.get(key) : undefined;
  return v === undefined ? reply.fail(NO_VALUE_FOUND) : reply.ok(v);
}

/**
 * `info-set guestinfo.KEY VALUE`: the key is the first word, the value everything after the following space
 * (binary-safe, may be empty or a single space as cloud-init sends it).
 */
function infoSet(req: RpciRequest, ctx: RpciContext): RpciReply {
  const sp = req.args.indexOf(0x20);
  if (sp <= 0) return reply.fail("Two and exactly two arguments expected");
  const key = fromUtf8(req.args.subarray(0, sp));
  const value = req.args.subarray(sp + 1);
  const refusal = ctx.guestinfo.trySet(key, value, "guest");
  if (refusal !== null) return reply.fail(GUESTINFO_REFUSALS[refusal]);
  const lower = GuestinfoStore.normalizeKey(key);
  if (lower === "guestinfo.ip") ctx.reported.set("primaryIp", fromUtf8(value).trim());
  if (lower === "guestinfo.appinfo") ctx.reported.set("appInfo", parseJson(fromUtf8(value)));
  if (lower === "guestinfo.vmtools.containerinfo") ctx.reported.set("containerInfo", parseJson(fromUtf8(value)));
  return reply.ok();
}

function parseJson(text: string): unknown {
  if (text.trim() === "") return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/**
 * `vmx.set_option NAME OLD NEW`: recorded; `synctime` flips GUI option 0x400 (what `timesync status` reads), a
 * durable change like SETGUIOPTIONS: it bumps the state generation so `--state` saves it while the guest runs.
 */
function vmxSetOption(req: RpciRequest, ctx: RpciContext): RpciReply {
  const parts = req.argsText.trim().split(/\s+/);
  if (parts.length !== 3 || parts[0] === "") return reply.fail("Invalid arguments");
  const [name, , value] = parts as [string, string, string];
  ctx.reported.setVmxOption(name, value);
  if (name === "synctime" && ctx.backdoorState !== null) {
    const s = ctx.backdoorState;
    s.setGuiOptions(value === "1" ? s.guiOptions | GuiOption.SYNC_TIME : s.guiOptions & ~GuiOption.SYNC_TIME);
  }
  return reply.ok();
}

/** `SetGuestInfo  N DATA`: decode per type into the guest model. */
function setGuestInfo(req: RpciRequest, ctx: RpciContext): RpciReply {
  const parsed = splitSetGuestInfo(req.args);
  if (parsed === null) return reply.fail("Invalid GuestInfo type");
  const { type, data } = parsed;
  const g = ctx.reported;
  switch (type) {
    case GuestInfoType.DNS_NAME:
      g.set("hostname", textValue(data));
      break;
    case GuestInfoType.BUILD_NUMBER:
      g.set("toolsBuild", textValue(data));
      break;
    case GuestInfoType.OS_NAME_FULL:
      g.set("osNameFull", textValue(data));
      break;
    case GuestInfoType.OS_NAME:
      g.set("osName", textValue(data));
      break;
    case GuestInfoType.UPTIME: {
      const t = textValue(data).trim();
      if (!/^\d{1,20}$/.test(t)) return reply.fail("Invalid uptime");
      g.set("uptimeSeconds", Number(t) / 100);
      break;
    }
    case GuestInfoType.IPADDRESS_V3:
    case GuestInfoType.IPADDRESS_V2:
    case GuestInfoType.IPADDRESS: {
      // An older host (profile nicInfoVersion) does not know type 10 nor the encodings newer than its own.
      if (type === GuestInfoType.IPADDRESS_V3 && ctx.profile.nicInfoVersion < 3) return reply.fail("Invalid GuestInfo type");
      const r = type === GuestInfoType.IPADDRESS ? decodeNicInfoV1(data) : decodeNicInfoV3(data);
      if (r === null || r.version > ctx.profile.nicInfoVersion) return reply.fail("Invalid NIC info");
      applyNicReport(g, type, r);
      break;
    }
    case GuestInfoType.OS_DETAILED: {
      const d = decodeOsDetailed(data);
      if (d === null) return reply.fail("Invalid OS details");
      g.set("osDetailed", d);
      if (typeof d["fullName"] === "string" && d["fullName"] !== "") g.set("osNameFull", d["fullName"]);
      if (typeof d["shortName"] === "string" && d["shortName"] !== "") g.set("osName", d["shortName"]);
      break;
    }
    case GuestInfoType.DISK_FREE_SPACE: {
      const disks = decodeDiskInfoV0(data);
      if (disks === null) return reply.fail("Invalid disk info");
      g.set("disks", disks);
      break;
    }
    case GuestInfoType.MEMORY:
      break; // accepted, layout not established
    default:
      return reply.fail("Invalid GuestInfo type");
  }
  g.set("toolsRunning", true);
  return reply.ok();
}

/** Put a decoded NIC report into the model: what the guest reported last replaces what it reported before. */
function applyNicReport(g: ReportedState, type: number, r: NicReport): void {
  g.set("nics", r.nics);
  g.set("routes", r.routes);
  g.set("dns", r.dns);
  g.set("wins", r.wins);
  g.set("dhcpv4", r.dhcpv4);
  g.set("dhcpv6", r.dhcpv6);
  g.set("nicReport", { type, version: r.version });
}

/** `VMSupportStatus` names (`lib/include/vmsupport.h`). */
const VMSUPPORT_NAMES: Record<number, VmsupportStatus["name"]> = {
  0: "notRunning",
  1: "beginning",
  2: "running",
  3: "ending",
  10: "error",
  100: "unknown",
};

function vmsupportStatus(code: number): VmsupportStatus {
  return { code, name: VMSUPPORT_NAMES[code] ?? null };
}

/** The guestlib session id: the profile's, or the last 8 bytes of the UUID. */
export function guestlibSessionId(p: VmProfile): bigint {
  if (p.guestlib.sessionId !== null) return BigInt("0x" + p.guestlib.sessionId.replace(/^0x/i, ""));
  return new DataView(uuidBytes(p.uuid).buffer).getBigUint64(8, false);
}

/**
 * `guestlib.info.get V`: only version 2 is served (669 bytes, little-endian, `docs/protocol.md` §5). Version 3 gets
 * `"0 Unsupported version"`, which makes libguestlib retry with 2.
 */
function guestlibInfo(req: RpciRequest, ctx: RpciContext): RpciReply {
  if (req.argsText.trim() !== "2") return reply.fail("Unsupported version");
  return reply.ok(encodeGuestlibV2(ctx));
}

/** The 669-byte v2 block. */
export function encodeGuestlibV2(ctx: RpciContext): Uint8Array {
  const p = ctx.profile;
  const g = p.guestlib;
  const b = new Uint8Array(GUESTLIB_V2_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 2, true);
  dv.setBigUint64(4, guestlibSessionId(p), true);
  const u32 = (off: number, v: number | null): void => {
    if (v === null) return;
    b[off] = 1;
    dv.setUint32(off + 4, v >>> 0, true);
  };
  const u64 = (off: number, v: bigint): void => {
    b[off] = 1;
    dv.setBigUint64(off + 4, v, true);
  };
  const elapsedMs = (ctx.clock.monotonicNs() - ctx.startMonotonicNs) / 1_000_000n;
  u32(12, g.cpuReservationMhz);
  u32(20, g.cpuLimitMhz ?? p.cpuMhz);
  u32(28, g.cpuShares);
  u64(36, elapsedMs); // cpuUsedMs: one busy vCPU is the most a guest could have used
  u32(48, p.cpuMhz); // hostMHz
  u32(56, g.memReservationMb);
  u32(64, g.memLimitMb ?? p.memSizeMb);
  u32(72, g.memShares);
  u32(80, g.memMappedMb);
  u32(88, g.memActiveMb);
  u32(96, g.memOverheadMb);
  u32(104, g.memBalloonedMb);
  u32(112, g.memSwappedMb);
  u32(120, g.memSharedMb);
  u32(128, g.memSharedSavedMb);
  u32(136, g.memUsedMb);
  u64(144, elapsedMs);
  if (g.resourcePoolPath !== null) {
    b[156] = 1;
    b.set(utf8(g.resourcePoolPath).subarray(0, 511), 157);
  }
  return b;
}
