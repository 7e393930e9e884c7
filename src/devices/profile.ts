/**
 * The VM profile: every guest-visible knob of the simulated VMware host, with defaults and validation.
 *
 * Emulates: the `.vmx` settings and host facts a VMware VMX answers backdoor queries from.
 * Source of truth: `docs/protocol.md` §3 (what each command returns), §12 (the choices between peers, each a
 * switch here where peers differ).
 * Does not: read files — front ends parse JSON and hand the object to {@link resolveProfile}. Only own keys count:
 * `__proto__`, `constructor`, `toString` and other names an object inherits are unknown keys, refused by name.
 */
import { VmportError } from "../core/errors.js";
import { utf8 } from "../core/text.js";
import { parseRemovableDevices, type RemovableDevice } from "./removable-devices.js";
import { VcpuInfo, VERSION_MAGIC, VmxType } from "./backdoor/constants.js";

/** Numbers `guestlib.info.get 2` reports (`vmware-toolbox-cmd stat …`); null = "not available". */
export interface GuestlibStats {
  /** Session id as 16 hex digits; a change makes clients renegotiate. Default: the last 8 bytes of the UUID. */
  sessionId: string | null;
  /** CPU reservation in MHz. */
  cpuReservationMhz: number | null;
  /** Default: the profile's cpuMhz. */
  cpuLimitMhz: number | null;
  /** CPU shares. */
  cpuShares: number | null;
  /** Memory reservation in MB. */
  memReservationMb: number | null;
  /** Default: the profile's memSizeMb. */
  memLimitMb: number | null;
  /** Memory shares. */
  memShares: number | null;
  /** Mapped memory in MB. */
  memMappedMb: number | null;
  /** Active memory in MB. */
  memActiveMb: number | null;
  /** Memory overhead in MB. */
  memOverheadMb: number | null;
  /** Ballooned memory in MB. */
  memBalloonedMb: number | null;
  /** Swapped memory in MB. */
  memSwappedMb: number | null;
  /** Shared memory in MB. */
  memSharedMb: number | null;
  /** Memory saved by sharing, in MB. */
  memSharedSavedMb: number | null;
  /** Used memory in MB. */
  memUsedMb: number | null;
  /** At most 512 bytes. Default "/". */
  resourcePoolPath: string | null;
}

/** A fully resolved profile: every key present. */
export interface VmProfile {
  /** GETVERSION EAX. Default 6 (`VERSION_MAGIC`; open-vm-tools refuses anything else). */
  vmxVersion: number;
  /** GETVERSION ECX, the product type. Default 2 (ESX Server). */
  vmxType: number;
  /** GETHWVERSION EAX; `null` (default) answers 4. */
  hwVersion: number | null;
  /** GETMEMSIZE, in MB. Default 2048. */
  memSizeMb: number;
  /** GETMHZ. Default 2400. */
  cpuMhz: number;
  /** TSC frequency in Hz (GETHZ, pseudo-PMC HW_TSC). Default 2 400 000 000. */
  tscHz: number;
  /** APIC bus frequency in Hz (GETHZ ECX). Default 66 000 000. */
  apicBusHz: number;
  /** GETUUID, canonical 8-4-4-4-12 hex form. Default `564d7670-6f72-7400-8000-000000000001`. */
  uuid: string;
  /**
   * Offset of the guest's RTC from UTC, in seconds (Xen's `time_offset`; a Windows guest keeps local time).
   * GETTIME reports it in EDX as minutes; the times returned are always UTC. Default 0; |value| ≤ 86 400.
   */
  timeOffsetSeconds: number;
  /** Max time lag in µs, GETTIME/GETTIMEFULL ECX. Default 1 000 000 (VMware Workstation 5.5's value). */
  maxTimeLagUs: number;
  /** Offer the high-bandwidth port in the message channel. Default true. */
  highBandwidth: boolean;
  /** Front ends virtualise CPUID so the guest sees "VMwareVMware". Default true. */
  cpuid: boolean;
  /** The backdoor exists. False: ports 0x5658/0x5659 are empty and ring-3 accesses fault, as on real hardware. Default true. */
  backdoor: boolean;
  /** RDPMC pseudo-counters 0x10000–0x10002 work at any CPL. Default true. */
  pseudoPmc: boolean;
  /**
   * Narrow (1- or 2-byte) IN/OUT on 0x5658: `"command"` runs the command and merges AL/AX (Xen, "what VMware
   * does"); `"empty"` answers as an empty port (v86). Default `"command"`.
   */
  narrowAccess: "command" | "empty";
  /** GETHZ only at CPL 0 (Xen's ESXi testing); false answers at any CPL (QEMU). Default true. */
  gethzCpl0Only: boolean;
  /** GETBUILDNUM EAX. Default 24022510 (an ESXi 8.0 U3 build number). */
  buildNumber: number;
  /** NESTING_CONTROL QUERY EAX: clients treat ≥ 2 as "nesting supported". Default 2 (`NESTING_CONTROL_MAX`). */
  nestingControlVersion: number;
  /** GET_VCPU_INFO EAX. Default 1 << 3 (LEGACY_X2APIC_OK, what QEMU reports with x2APIC). */
  vcpuInfo: number;
  /** Initial GETGUIOPTIONS bits. Default 0 (time sync off). */
  guiOptions: number;
  /** GETSCREENSIZE width in pixels, 1…32767. Default 1024. */
  screenWidth: number;
  /** GETSCREENSIZE height in pixels, 1…32767. Default 768. */
  screenHeight: number;
  /** Removable devices (at most 50). Default none. */
  devices: RemovableDevice[];
  /** Message channels open at once, 1…1024. Default 128 (`GUESTMSG_MAX_CHANNEL`). */
  maxChannels: number;
  /** Put `reset` first in the TCLO queue whenever the guest opens a TCLO channel, as a VMX does. Default true. */
  tcloResetOnOpen: boolean;
  /**
   * Append one NUL to every TCLO command on the wire (`"reset\0"`), the framing of the never-merged QEMU
   * `vmport_rpc` patch. Default false: the command text alone, as a VMX sends it and as VMware's Go clients
   * require (`docs/tclo-framing.md`).
   */
  tcloTrailingNul: boolean;
  /** `guestlib.info.get` numbers. Defaults derived from the other keys (see {@link GuestlibStats}). */
  guestlib: GuestlibStats;
  /**
   * The `.vmx`'s `machine.id`, answered to `machine.id.get` (`vmware-rpctool machine.id.get`); null (default) is
   * unset, answered as an empty string as a VMX does. At most {@link MACHINE_ID_MAX_BYTES} bytes of UTF-8.
   */
  machineId: string | null;
  /**
   * The answer to `disk.wiper.enable` (`vmware-toolbox-cmd disk list|shrink|wipe`): `"enabled"` (`1 1`),
   * `"disabled"` (`1 0`: "Shrink disk is disabled for this virtual machine"), `"unavailable"` (`0 Unknown
   * command`: "The shrink feature is not available"). Null (default) answers as the host type does: ESX
   * (`vmxType` 2) disabled, hosted products enabled.
   */
  diskWiper: DiskWiperState | null;
  /**
   * The newest NIC report the host accepts, as an older VMX would: 3 (default) takes `SetGuestInfo 10` and `9`
   * with either encoding; 2 refuses type 10 and v3 bodies, so the guestInfo plugin falls back to `GuestNicList`
   * over type 9; 1 takes only the legacy type-2 struct.
   */
  nicInfoVersion: 1 | 2 | 3;
}

/** The profile's `diskWiper` answers. */
export type DiskWiperState = "enabled" | "disabled" | "unavailable";

/** Longest `machineId`, in bytes: what fits in one reply after `"1 "`. */
export const MACHINE_ID_MAX_BYTES = 65534;

/** A profile as a user writes it: any subset of keys. */
export type VmProfileInput = Partial<Omit<VmProfile, "guestlib">> & { guestlib?: Partial<GuestlibStats> };

/** The defaults, one per key. */
export const DEFAULT_PROFILE: Readonly<VmProfile> = Object.freeze({
  vmxVersion: VERSION_MAGIC,
  vmxType: VmxType.SCALABLE_SERVER,
  hwVersion: null,
  memSizeMb: 2048,
  cpuMhz: 2400,
  tscHz: 2_400_000_000,
  apicBusHz: 66_000_000,
  uuid: "564d7670-6f72-7400-8000-000000000001",
  timeOffsetSeconds: 0,
  maxTimeLagUs: 1_000_000,
  highBandwidth: true,
  cpuid: true,
  backdoor: true,
  pseudoPmc: true,
  narrowAccess: "command",
  gethzCpl0Only: true,
  buildNumber: 24022510,
  nestingControlVersion: 2,
  vcpuInfo: 1 << VcpuInfo.LEGACY_X2APIC_OK,
  guiOptions: 0,
  screenWidth: 1024,
  screenHeight: 768,
  devices: [] as RemovableDevice[],
  maxChannels: 128,
  tcloResetOnOpen: true,
  tcloTrailingNul: false,
  guestlib: {
    sessionId: null,
    cpuReservationMhz: 0,
    cpuLimitMhz: null,
    cpuShares: 1000,
    memReservationMb: 0,
    memLimitMb: null,
    memShares: 20480,
    memMappedMb: 0,
    memActiveMb: 0,
    memOverheadMb: 0,
    memBalloonedMb: 0,
    memSwappedMb: 0,
    memSharedMb: 0,
    memSharedSavedMb: 0,
    memUsedMb: 0,
    resourcePoolPath: "/",
  } as GuestlibStats,
  machineId: null,
  diskWiper: null,
  nicInfoVersion: 3,
});

const UINT32_MAX = 0xffffffff;
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function bad(key: string, why: string): never {
  throw new VmportError("VMPORT_BAD_PROFILE", `profile key "${key}": ${why}`);
}

function uint(key: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v)) bad(key, `expected an integer, got ${JSON.stringify(v)}`);
  if (v < min || v > max) bad(key, `${v} is outside ${min}..${max}`);
  return v;
}

function bool(key: string, v: unknown): boolean {
  if (typeof v !== "boolean") bad(key, `expected true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** How each profile key is read: its validator and converter (the key is passed for the error message). */
const KEY_PARSERS: { [K in keyof VmProfile]: (key: string, v: unknown) => VmProfile[K] } = {
  vmxVersion: (k, v) => uint(k, v, 0, UINT32_MAX),
  vmxType: (k, v) => uint(k, v, 0, UINT32_MAX),
  hwVersion: (k, v) => (v === null ? null : uint(k, v, 0, UINT32_MAX)),
  memSizeMb: (k, v) => uint(k, v, 1, UINT32_MAX),
  cpuMhz: (k, v) => uint(k, v, 1, 0x7fffffff),
  tscHz: (k, v) => uint(k, v, 1, Number.MAX_SAFE_INTEGER),
  apicBusHz: (k, v) => uint(k, v, 1, UINT32_MAX),
  uuid: (k, v) => {
    if (typeof v !== "string" || !UUID_RE.test(v)) bad(k, `expected 8-4-4-4-12 hex digits, got ${JSON.stringify(v)}`);
    return v.toLowerCase();
  },
  timeOffsetSeconds: (k, v) => uint(k, v, -86400, 86400),
  maxTimeLagUs: (k, v) => uint(k, v, 0, UINT32_MAX),
  highBandwidth: bool,
  cpuid: bool,
  backdoor: bool,
  pseudoPmc: bool,
  narrowAccess: (k, v) => {
    if (v !== "command" && v !== "empty") bad(k, `expected "command" or "empty", got ${JSON.stringify(v)}`);
    return v;
  },
  gethzCpl0Only: bool,
  buildNumber: (k, v) => uint(k, v, 0, UINT32_MAX),
  nestingControlVersion: (k, v) => uint(k, v, 0, UINT32_MAX),
  vcpuInfo: (k, v) => uint(k, v, 0, UINT32_MAX),
  guiOptions: (k, v) => uint(k, v, 0, UINT32_MAX),
  screenWidth: (k, v) => uint(k, v, 1, 0x7fff),
  screenHeight: (k, v) => uint(k, v, 1, 0x7fff),
  devices: (_k, v) => devices(v),
  maxChannels: (k, v) => uint(k, v, 1, 1024),
  tcloResetOnOpen: bool,
  tcloTrailingNul: bool,
  guestlib: (_k, v) => guestlib(v),
  machineId: (k, v) => {
    if (v !== null && (typeof v !== "string" || utf8(v).length > MACHINE_ID_MAX_BYTES))
      bad(k, `expected a string of at most ${MACHINE_ID_MAX_BYTES} bytes, or null`);
    return v;
  },
  diskWiper: (k, v) => {
    if (v !== null && v !== "enabled" && v !== "disabled" && v !== "unavailable")
      bad(k, `expected "enabled", "disabled", "unavailable" or null, got ${JSON.stringify(v)}`);
    return v;
  },
  nicInfoVersion: (k, v) => uint(k, v, 1, 3) as 1 | 2 | 3,
};

/**
 * Merge `input` over {@link DEFAULT_PROFILE} and validate every key.
 * @throws VmportError VMPORT_BAD_PROFILE naming the first bad key and why.
 */
export function resolveProfile(input: unknown = {}): VmProfile {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new VmportError("VMPORT_BAD_PROFILE", "profile: expected a JSON object");
  }
  const p: VmProfile = { ...DEFAULT_PROFILE, devices: [], guestlib: { ...DEFAULT_PROFILE.guestlib } };
  for (const [key, v] of Object.entries(input)) {
    // Own keys only: `key in KEY_PARSERS` would also accept "toString", "constructor", "__proto__"…
    if (!Object.hasOwn(KEY_PARSERS, key)) bad(key, `unknown key (known: ${Object.keys(DEFAULT_PROFILE).join(", ")})`);
    const k = key as keyof VmProfile;
    (p as unknown as Record<string, unknown>)[k] = KEY_PARSERS[k](key, v);
  }
  return p;
}

function devices(v: unknown): RemovableDevice[] {
  return parseRemovableDevices(v, "devices", bad);
}

function guestlib(v: unknown): GuestlibStats {
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad("guestlib", "expected an object");
  const g: GuestlibStats = { ...DEFAULT_PROFILE.guestlib };
  for (const [k, x] of Object.entries(v)) {
    const key = `guestlib.${k}`;
    // Own keys of the defaults only: `k in g` would also accept "toString", "constructor", "__proto__"…
    if (!Object.hasOwn(DEFAULT_PROFILE.guestlib, k)) bad(key, `unknown key (known: ${Object.keys(g).join(", ")})`);
    if (k === "sessionId") {
      if (x !== null && (typeof x !== "string" || !/^(0x)?[0-9a-fA-F]{1,16}$/.test(x))) bad(key, "expected up to 16 hex digits or null");
      g.sessionId = x as string | null;
    } else if (k === "resourcePoolPath") {
      if (x !== null && (typeof x !== "string" || x.length > 512 || !/^[\x20-\x7e]*$/.test(x)))
        bad(key, "expected printable ASCII of at most 512 bytes, or null");
      g.resourcePoolPath = x as string | null;
    } else {
      (g as unknown as Record<string, number | null>)[k] = x === null ? null : uint(key, x, 0, 0xffffffff);
    }
  }
  return g;
}
