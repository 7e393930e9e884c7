/**
 * Decoders for what the guestInfo plugin sends: `SetGuestInfo  N DATA` of every type, and `SetGuestDiskInfo`.
 *
 * Emulates: the VMX's parsing of guest-reported NICs, OS details, disks, uptime and names.
 * Source of truth (open-vm-tools stable-12.2.0): `lib/guestRpc/nicinfo.x` (NIC info v3 and v2, XDR),
 * `lib/include/guestInfo.h` (types; v1 NIC struct; `PartitionEntry`, packed, 116 bytes), `lib/include/hostinfo.h`
 * (`HostinfoDetailedDataHeader`, 648 bytes), `services/plugins/guestInfo/guestInfoServer.c` (framing, JSON disk
 * report). Framing: `"SetGuestInfo"`, two spaces, the decimal type, one space, the data; text types include a NUL.
 * NIC reports are decoded completely: every NIC (MAC; each address with prefix length, origin and status; per-NIC
 * DNS, WINS, DHCPv4/v6), routes (IPv4 and IPv6), and the global DNS, WINS and DHCP configuration.
 * Does not: decode type 8 (memory; its layout is not established) — it is accepted and ignored. Every decoder
 * returns null on malformed data instead of throwing (a partial report never reaches the model); every count and
 * length is checked against its nicinfo.x maximum before anything is allocated for it.
 */
import { fromUtf8, fromUtf8Strict, fromBase64 } from "../core/text.js";
import type {
  DhcpConfig,
  DnsConfig,
  GuestDisk,
  GuestNic,
  GuestRoute,
  GuestStateSnapshot,
  IpAddressOrigin,
  IpAddressStatus,
  NicAddress,
  WinsConfig,
} from "./reported-state.js";
import { XdrReader, latin1 } from "./xdr-reader.js";

/** `GuestInfoType` values (`lib/include/guestInfo.h`). */
export const GuestInfoType = {
  DNS_NAME: 1,
  IPADDRESS: 2,
  DISK_FREE_SPACE: 3,
  BUILD_NUMBER: 4,
  OS_NAME_FULL: 5,
  OS_NAME: 6,
  UPTIME: 7,
  MEMORY: 8,
  IPADDRESS_V2: 9,
  IPADDRESS_V3: 10,
  OS_DETAILED: 11,
} as const;

/** nicinfo.x `NICINFO_MAX_NICS`: NICs in one report. */
export const NICINFO_MAX_NICS = 16;
/** nicinfo.x `NICINFO_MAX_IPS`: addresses per NIC. */
export const NICINFO_MAX_IPS = 2048;
/** nicinfo.x `NICINFO_MAX_ROUTES`: routes in one report. */
export const NICINFO_MAX_ROUTES = 100;
/** nicinfo.x `NICINFO_MAC_LEN`. */
export const NICINFO_MAC_LEN = 18;
/** nicinfo.x `INET_ADDRESS_MAX_LEN`. */
export const INET_ADDRESS_MAX_LEN = 255;
/** nicinfo.x `DNSINFO_MAX_ADDRLEN`. */
export const DNSINFO_MAX_ADDRLEN = 255;
/** nicinfo.x `DNSINFO_MAX_SUFFIXES`. */
export const DNSINFO_MAX_SUFFIXES = 10;
/** nicinfo.x `DNSINFO_MAX_SERVERS`. */
export const DNSINFO_MAX_SERVERS = 16;
/** nicinfo.x `DHCP_MAX_CONFIG_SIZE`. */
export const DHCP_MAX_CONFIG_SIZE = 16384;
/** nicinfo.x `NICINFO_MAX_IP_LEN`: the v2 fixed char vectors. */
const NICINFO_MAX_IP_LEN = 64;

/** `InetAddressType` (RFC 4001). */
const InetAddressType = { IPV4: 1, IPV6: 2, IPV4Z: 3, IPV6Z: 4, DNS: 16 } as const;
/** `IpAddressOrigin` values → names. */
const ORIGINS: Record<number, IpAddressOrigin> = { 1: "other", 2: "manual", 4: "dhcp", 5: "linklayer", 6: "random" };
/** `IpAddressStatus` values → names. */
const STATUSES: Record<number, IpAddressStatus> = {
  1: "preferred",
  2: "deprecated",
  3: "invalid",
  4: "inaccessible",
  5: "unknown",
  6: "tentative",
  7: "duplicate",
  8: "optimistic",
};
/** `InetCidrRouteType` values → names. */
const ROUTE_TYPES: Record<number, "other" | "reject" | "local" | "remote"> = { 1: "other", 2: "reject", 3: "local", 4: "remote" };

/** Split `" N DATA"` (the args of `SetGuestInfo`, after its first space) into the type and the raw data. */
export function splitSetGuestInfo(args: Uint8Array): { type: number; data: Uint8Array } | null {
  let i = 0;
  while (i < args.length && args[i] === 0x20) i++;
  let type = 0;
  const start = i;
  while (i < args.length && args[i]! >= 0x30 && args[i]! <= 0x39 && i - start < 4) type = type * 10 + (args[i++]! - 0x30);
  if (i === start) return null;
  if (i < args.length && args[i] === 0x20) i++;
  return { type, data: args.subarray(i) };
}

/** A text type's value: UTF-8, one trailing NUL removed, trailing NULs ignored. */
export function textValue(data: Uint8Array): string {
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) end--;
  return fromUtf8(data.subarray(0, end));
}

/**
 * RFC 4001 `InetAddress` as text, or null when its length does not fit its type (a malformed report): IPv4 4 bytes,
 * IPv6 16, the zoned forms 4 more (a big-endian zone index, shown as `%N`), a DNS name 1–255 printable bytes.
 */
function inetText(type: number, addr: Uint8Array): string | null {
  const zone = (at: number): string => `%${new DataView(addr.buffer, addr.byteOffset + at, 4).getUint32(0, false)}`;
  switch (type) {
    case InetAddressType.IPV4:
      return addr.length === 4 ? ipv4Text(addr) : null;
    case InetAddressType.IPV4Z:
      return addr.length === 8 ? ipv4Text(addr) + zone(4) : null;
    case InetAddressType.IPV6:
      return addr.length === 16 ? ipv6Text(addr) : null;
    case InetAddressType.IPV6Z:
      return addr.length === 20 ? ipv6Text(addr) + zone(16) : null;
    case InetAddressType.DNS:
      return addr.length > 0 && addr.every((c) => c > 0x20 && c < 0x7f) ? latin1(addr) : null;
    default:
      return null;
  }
}

function ipv4Text(a: Uint8Array): string {
  return `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
}

function ipv6Text(a: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((a[i]! << 8) | a[i + 1]!).toString(16));
  return compressIpv6(groups);
}

/** RFC 5952 text: the longest run (≥ 2) of zero groups becomes `::`. */
function compressIpv6(g: string[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === "0") j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return g.join(":");
  return g.slice(0, best).join(":") + "::" + g.slice(best + bestLen).join(":");
}

/**
 * A v3 decoding pass: wraps the XDR reader and also fails on data XDR accepts but nicinfo.x gives no meaning
 * (an address whose length does not fit its type, text that is not printable where a host name is expected).
 */
class NicV3Reader {
  /** Set when the data is well-formed XDR but not a meaningful report. */
  bad = false;
  constructor(readonly r: XdrReader) {}

  get failed(): boolean {
    return this.r.failed || this.bad;
  }

  /** `TypedIpAddress`. */
  typedIp(): string {
    const type = this.r.i32();
    const addr = this.r.opaque(INET_ADDRESS_MAX_LEN);
    if (this.r.failed) return "";
    const t = inetText(type, addr);
    if (t === null) this.bad = true;
    return t ?? "";
  }

  /** `DnsHostname` (`string<255>`). */
  hostname(): string {
    return this.r.string(DNSINFO_MAX_ADDRLEN);
  }

  /** `DnsConfigInfo`. */
  dns(): DnsConfig {
    const hostName = this.r.optional(() => this.hostname());
    const domainName = this.r.optional(() => this.hostname());
    const servers = this.r.array(DNSINFO_MAX_SERVERS, () => this.typedIp());
    const searchSuffixes = this.r.array(DNSINFO_MAX_SUFFIXES, () => this.hostname());
    return { hostName, domainName, servers, searchSuffixes };
  }

  /** `WinsConfigInfo`. */
  wins(): WinsConfig {
    const primary = this.typedIp();
    const secondary = this.typedIp();
    return { primary, secondary };
  }

  /** `DhcpConfigInfo`. */
  dhcp(): DhcpConfig {
    const enabled = this.r.bool();
    const settings = fromUtf8(this.r.opaque(DHCP_MAX_CONFIG_SIZE));
    return { enabled, settings };
  }

  /** The four optional configurations that end both `GuestNicV3` and `NicInfoV3`. */
  configs(): Pick<GuestNic, "dns" | "wins" | "dhcpv4" | "dhcpv6"> {
    const dns = this.r.optional(() => this.dns());
    const wins = this.r.optional(() => this.wins());
    const dhcpv4 = this.r.optional(() => this.dhcp());
    const dhcpv6 = this.r.optional(() => this.dhcp());
    return { dns, wins, dhcpv4, dhcpv6 };
  }

  /** `IpAddressEntry`. */
  address(): NicAddress {
    const address = this.typedIp();
    const prefixLength = this.r.u32();
    const origin = this.r.optional(() => this.r.i32());
    const status = this.r.optional(() => this.r.i32());
    return {
      address,
      prefixLength,
      origin: origin === null ? null : (ORIGINS[origin] ?? origin),
      status: status === null ? null : (STATUSES[status] ?? status),
    };
  }

  /** `GuestNicV3`. */
  nic(): GuestNic {
    const mac = this.r.string(NICINFO_MAC_LEN);
    const ips = this.r.array(NICINFO_MAX_IPS, () => this.address());
    return { mac, ips, ...this.configs() };
  }

  /** `InetCidrRouteEntry`. */
  route(): GuestRoute {
    const destination = this.typedIp();
    const prefixLength = this.r.u32();
    const nextHop = this.r.optional(() => this.typedIp());
    const ifIndex = this.r.u32();
    const t = this.r.i32();
    const type = ROUTE_TYPES[t] ?? t;
    const metric = this.r.u32();
    return { destination, prefixLength, nextHop, ifIndex, type, metric: metric === 0xffffffff ? null : metric };
  }
}

/**
 * What a NIC report carries: the NICs and, from v3, routes and the global configuration — the fields of the
 * reported-state model of the same names.
 */
export interface NicReport extends Pick<GuestStateSnapshot, "nics" | "routes" | "dns" | "wins" | "dhcpv4" | "dhcpv6"> {
  /** Encoding: 3 (`NicInfoV3`), 2 (`GuestNicList`) or 1 (native struct). */
  version: 1 | 2 | 3;
}

/**
 * Decode `GuestNicProto` (types 10 and 9): version 3 (`NicInfoV3`) or version 2 (`GuestNicList`), completely. Null
 * for anything malformed: truncated data, counts or lengths above the nicinfo.x maxima, an address whose length
 * does not fit its type, trailing bytes after the report.
 */
export function decodeNicInfoV3(data: Uint8Array): NicReport | null {
  const r = new XdrReader(data);
  const ver = r.u32();
  if (r.failed) return null;
  if (ver === 2) return decodeNicInfoV2Body(r);
  if (ver !== 3 || !r.bool()) return null;
  const v = new NicV3Reader(r);
  const nics = r.array(NICINFO_MAX_NICS, () => v.nic());
  const routes = r.array(NICINFO_MAX_ROUTES, () => v.route());
  const top = v.configs();
  if (v.failed || r.remaining !== 0) return null;
  return { version: 3, nics, routes, ...top };
}

/** A v2 `subnetMask`: a decimal prefix length ("24") or a contiguous hexadecimal mask ("0xffffff00"). */
function v2Prefix(mask: string): number | null {
  if (/^\d{1,3}$/.test(mask)) return Number(mask) <= 128 ? Number(mask) : null;
  const m = /^0x([0-9a-fA-F]{1,8})$/.exec(mask);
  if (m === null) return null;
  const bits = Number.parseInt(m[1]!, 16) >>> 0;
  const ones = Math.clz32(~bits); // leading one bits
  // Contiguous: the mask is `ones` one bits followed by zero bits.
  const expect = ones === 0 ? 0 : (0xffffffff << (32 - ones)) >>> 0;
  return bits === expect ? ones : null;
}

/** `GuestNicList` (v2): fixed char vectors, each char a 4-byte XDR integer. */
function decodeNicInfoV2Body(r: XdrReader): NicReport | null {
  if (!r.bool()) return null;
  const nics = r.array(NICINFO_MAX_NICS, (): GuestNic => {
    const mac = r.charVector(NICINFO_MAC_LEN);
    const ips = r.array(NICINFO_MAX_IPS, (): NicAddress => {
      r.i32(); // addressFamily: NICINFO_ADDR_IPV4 0, NICINFO_ADDR_IPV6 1 (the text says which)
      const dhcp = r.u32() !== 0; // dhcpEnabled (Bool = xdr_char)
      const address = r.charVector(NICINFO_MAX_IP_LEN);
      const mask = r.charVector(NICINFO_MAX_IP_LEN);
      return { address, prefixLength: v2Prefix(mask), origin: dhcp ? "dhcp" : null, status: null };
    });
    return { mac, ips, dns: null, wins: null, dhcpv4: null, dhcpv6: null };
  });
  if (r.failed || r.remaining !== 0) return null;
  return { version: 2, nics, routes: [], dns: null, wins: null, dhcpv4: null, dhcpv6: null };
}

/** `GuestNicInfoV1` (type 2): native struct, u32 count then 16 × 152-byte entries. */
export function decodeNicInfoV1(data: Uint8Array): NicReport | null {
  const ENTRY = 152;
  if (data.length < 4 + 16 * ENTRY) return null;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = Math.min(dv.getUint32(0, true), 16);
  const nics: GuestNic[] = [];
  for (let i = 0; i < count; i++) {
    const e = 4 + i * ENTRY;
    const numIps = Math.min(dv.getUint32(e, true), 8);
    const mac = latin1(data.subarray(e + 4, e + 23));
    const ips: NicAddress[] = [];
    for (let k = 0; k < 8 && ips.length < numIps; k++) {
      const ip = latin1(data.subarray(e + 23 + k * 16, e + 39 + k * 16));
      if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) ips.push({ address: ip, prefixLength: null, origin: null, status: null });
    }
    nics.push({ mac, ips, dns: null, wins: null, dhcpv4: null, dhcpv6: null });
  }
  return { version: 1, nics, routes: [], dns: null, wins: null, dhcpv4: null, dhcpv6: null };
}

/** Size of `HostinfoDetailedDataHeader`. */
const OS_DETAILED_HEADER = 648;

/** Decode type 11: header (version, shortName[129], fullName[513]) then `key='value'` pairs. */
export function decodeOsDetailed(data: Uint8Array): Record<string, string | number> | null {
  if (data.length < OS_DETAILED_HEADER) return null;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: Record<string, string | number> = {
    version: dv.getUint32(0, true),
    shortName: latin1(data.subarray(4, 133)),
    fullName: fromUtf8(trimNul(data.subarray(133, 646))),
  };
  const details = fromUtf8(trimNul(data.subarray(OS_DETAILED_HEADER)));
  // key='value' pairs; inside a value, \' and \\ are escapes.
  const re = /([A-Za-z]+)='((?:[^'\\]|\\.)*)'/g;
  let n = 0;
  for (const m of details.matchAll(re)) {
    if (++n > 32) break;
    out[m[1]!] = m[2]!.replace(/\\(.)/g, "$1");
  }
  return out;
}

function trimNul(b: Uint8Array): Uint8Array {
  const i = b.indexOf(0);
  return i < 0 ? b : b.subarray(0, i);
}

/** Decode type 3: u8 count, then packed `PartitionEntry` (u64 free, u64 total, char name[100]). */
export function decodeDiskInfoV0(data: Uint8Array): GuestDisk[] | null {
  if (data.length < 1) return null;
  const count = data[0]!;
  const ENTRY = 116;
  if (data.length < 1 + count * ENTRY) return null;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const disks: GuestDisk[] = [];
  for (let i = 0; i < count; i++) {
    const e = 1 + i * ENTRY;
    disks.push({
      name: latin1(data.subarray(e + 16, e + 116)),
      freeBytes: Number(dv.getBigUint64(e, true)),
      totalBytes: Number(dv.getBigUint64(e + 8, true)),
      filesystem: null,
    });
  }
  return disks;
}

/** Decode `SetGuestDiskInfo` JSON: `{"version":"1","disks":[{"name":<base64>,"free":"N","size":"N","fstype":…}]}`. */
export function decodeDiskInfoJson(data: Uint8Array): GuestDisk[] | null {
  const text = fromUtf8Strict(trimNul(data));
  if (text === null) return null;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof doc !== "object" || doc === null || !Array.isArray((doc as { disks?: unknown }).disks)) return null;
  const disks: GuestDisk[] = [];
  for (const d of (doc as { disks: unknown[] }).disks.slice(0, 256)) {
    if (typeof d !== "object" || d === null) return null;
    const o = d as Record<string, unknown>;
    if (typeof o["name"] !== "string") return null;
    const raw = fromBase64(o["name"]);
    const name = raw === null ? o["name"] : fromUtf8(raw);
    const num = (v: unknown): number => (typeof v === "string" && /^\d{1,20}$/.test(v) ? Number(v) : typeof v === "number" ? v : 0);
    disks.push({
      name,
      freeBytes: num(o["free"]),
      totalBytes: num(o["size"]),
      filesystem: typeof o["fstype"] === "string" ? o["fstype"] : null,
    });
  }
  return disks;
}
