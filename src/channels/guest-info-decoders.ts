/**
 * Decoders for what the guestInfo plugin sends: `SetGuestInfo  N DATA` of every type, and `SetGuestDiskInfo`.
 *
 * Emulates: the VMX's parsing of guest-reported NICs, OS details, disks, uptime and names.
 * Source of truth (open-vm-tools stable-12.2.0): `lib/guestRpc/nicinfo.x` (NIC info v3 and v2, XDR),
 * `lib/include/guestInfo.h` (types; v1 NIC struct; `PartitionEntry`, packed, 116 bytes), `lib/include/hostinfo.h`
 * (`HostinfoDetailedDataHeader`, 648 bytes), `services/plugins/guestInfo/guestInfoServer.c` (framing, JSON disk
 * report). Framing: `"SetGuestInfo"`, two spaces, the decimal type, one space, the data; text types include a NUL.
 * Does not: decode type 8 (memory; its layout is not established) — it is accepted and ignored. Every decoder
 * returns null on malformed data instead of throwing; all counts are capped at the .x maxima.
 */
import { fromUtf8, fromUtf8Strict, fromBase64 } from "../core/text.js";
import type { GuestDisk, GuestNic, NicAddress } from "./guest-state.js";
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

/** nicinfo.x maxima. */
export const NICINFO_MAX_NICS = 16;
export const NICINFO_MAX_IPS = 2048;
export const NICINFO_MAX_ROUTES = 100;
const NICINFO_MAC_LEN = 18;
const INET_ADDRESS_MAX_LEN = 255;
const DNSINFO_MAX_ADDRLEN = 255;
const DNSINFO_MAX_SUFFIXES = 10;
const DNSINFO_MAX_SERVERS = 16;
const DHCP_MAX_CONFIG_SIZE = 16384;

/** `InetAddressType`. */
const InetAddressType = { IPV4: 1, IPV6: 2, IPV4Z: 3, IPV6Z: 4 } as const;

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

function ipText(type: number, addr: Uint8Array): string | null {
  if ((type === InetAddressType.IPV4 || type === InetAddressType.IPV4Z) && addr.length >= 4) {
    return `${addr[0]}.${addr[1]}.${addr[2]}.${addr[3]}`;
  }
  if ((type === InetAddressType.IPV6 || type === InetAddressType.IPV6Z) && addr.length >= 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((addr[i]! << 8) | addr[i + 1]!).toString(16));
    return compressIpv6(groups);
  }
  return null;
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

function typedIp(r: XdrReader): string | null {
  const type = r.i32();
  const addr = r.opaque(INET_ADDRESS_MAX_LEN);
  return ipText(type, addr);
}

function skipPerNicOptionals(r: XdrReader): { hostName: string | null; domainName: string | null } {
  let dns: { hostName: string | null; domainName: string | null } = { hostName: null, domainName: null };
  r.optional(() => {
    const hostName = r.optional(() => r.string(DNSINFO_MAX_ADDRLEN));
    const domainName = r.optional(() => r.string(DNSINFO_MAX_ADDRLEN));
    r.array(DNSINFO_MAX_SERVERS, () => typedIp(r));
    r.array(DNSINFO_MAX_SUFFIXES, () => r.string(DNSINFO_MAX_ADDRLEN));
    dns = { hostName, domainName };
  });
  r.optional(() => (typedIp(r), typedIp(r))); // WINS
  r.optional(() => (r.bool(), r.string(DHCP_MAX_CONFIG_SIZE))); // DHCPv4
  r.optional(() => (r.bool(), r.string(DHCP_MAX_CONFIG_SIZE))); // DHCPv6
  return dns;
}

/** What a NIC report carries besides the NICs. */
export interface NicReport {
  nics: GuestNic[];
  /** FQDN from the top-level DNS config (v3), if any. */
  hostName: string | null;
  domainName: string | null;
  /** Number of routes reported (v3). */
  routes: number;
}

/** Decode `GuestNicProto` version 3 (types 10 and 9). */
export function decodeNicInfoV3(data: Uint8Array): NicReport | null {
  const r = new XdrReader(data);
  const ver = r.u32();
  if (r.failed) return null;
  if (ver === 2) return decodeNicInfoV2Body(r);
  if (ver !== 3 || !r.bool()) return null;
  const nics = r.array(NICINFO_MAX_NICS, () => {
    const mac = r.string(NICINFO_MAC_LEN);
    const ips = r.array(NICINFO_MAX_IPS, (): NicAddress | null => {
      const address = typedIp(r);
      const prefixLength = r.u32();
      r.optional(() => r.i32()); // origin
      r.optional(() => r.i32()); // status
      return address === null ? null : { address, prefixLength };
    });
    skipPerNicOptionals(r);
    return { mac, ips: ips.filter((x): x is NicAddress => x !== null) };
  });
  const routes = r.array(NICINFO_MAX_ROUTES, () => {
    typedIp(r);
    r.u32();
    r.optional(() => typedIp(r));
    r.u32();
    r.i32();
    r.u32();
    return 0;
  });
  const dns = r.optional(() => {
    const hostName = r.optional(() => r.string(DNSINFO_MAX_ADDRLEN));
    const domainName = r.optional(() => r.string(DNSINFO_MAX_ADDRLEN));
    r.array(DNSINFO_MAX_SERVERS, () => typedIp(r));
    r.array(DNSINFO_MAX_SUFFIXES, () => r.string(DNSINFO_MAX_ADDRLEN));
    return { hostName, domainName };
  });
  r.optional(() => (typedIp(r), typedIp(r)));
  r.optional(() => (r.bool(), r.string(DHCP_MAX_CONFIG_SIZE)));
  r.optional(() => (r.bool(), r.string(DHCP_MAX_CONFIG_SIZE)));
  if (r.failed) return null;
  return { nics, hostName: dns?.hostName ?? null, domainName: dns?.domainName ?? null, routes: routes.length };
}

/** `GuestNicList` (v2): fixed char vectors, each char a 4-byte XDR integer. */
function decodeNicInfoV2Body(r: XdrReader): NicReport | null {
  if (!r.bool()) return null;
  const nics = r.array(NICINFO_MAX_NICS, () => {
    const mac = r.charVector(NICINFO_MAC_LEN);
    const ips = r.array(NICINFO_MAX_IPS, (): NicAddress => {
      r.i32(); // addressFamily
      r.u32(); // dhcpEnabled (Bool = xdr_char)
      const address = r.charVector(64);
      const mask = r.charVector(64); // the decimal prefix length
      const p = /^\d{1,3}$/.test(mask) ? Number(mask) : null;
      return { address, prefixLength: p };
    });
    return { mac, ips };
  });
  if (r.failed) return null;
  return { nics, hostName: null, domainName: null, routes: 0 };
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
      if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) ips.push({ address: ip, prefixLength: null });
    }
    nics.push({ mac, ips });
  }
  return { nics, hostName: null, domainName: null, routes: 0 };
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
    disks.push({ name, freeBytes: num(o["free"]), totalBytes: num(o["size"]), filesystem: typeof o["fstype"] === "string" ? o["fstype"] : null });
  }
  return disks;
}
