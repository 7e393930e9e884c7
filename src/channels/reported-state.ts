/**
 * The host's model of what the guest reported (the reported state): tools status, identity, OS, NICs, routes,
 * DNS, disks, uptime, app and container info, vm-support status, guestinfo. (Named so that "guest" alone means
 * the guest side: `src/guest` is the guest library.)
 *
 * Emulates: what vCenter shows for a VM (`GuestInfo` in the vSphere API), fed by RPCI (`SetGuestInfo`,
 * `tools.set.version*`, `tools.capability.*`, `info-set guestinfo.*`, `log`) and by TCLO results (`reset`).
 * Readable as one snapshot and as change events.
 * Source of truth: open-vm-tools `services/plugins/guestInfo/`, `lib/include/guestInfo.h`, `lib/guestRpc/nicinfo.x`
 * (the NIC, route, DNS, WINS and DHCP shapes), `lib/include/vmsupport.h`; `docs/clients.md#open-vm-tools` (vmtoolsd).
 * Does not: keep history (only the latest value of each field, plus a bounded log ring), or save and restore
 * itself: it is not durable state (the tools report everything again after each start, as they do to a VMX),
 * so it has no `saveState`/`restoreState` and is not in the state file.
 */
import { fromUtf8 } from "../core/text.js";
import type { GuestinfoStore } from "./guestinfo-store.js";
import { EventSet, type Listener } from "../core/events.js";

/** Log lines kept (`log` RPCI and `guest.log.text`), oldest dropped first. */
export const GUEST_LOG_MAX_LINES = 1000;
/** Longest log line kept, in characters; longer lines are cut. */
export const GUEST_LOG_MAX_LINE = 4096;
/** Most distinct `tools.capability.*` / `vmx.set_option` names kept; further new names are counted and dropped. */
export const GUEST_MAX_NAMED_ENTRIES = 256;

/** How an address was assigned (RFC 4293 `IpAddressOrigin`, nicinfo.x `IpAddressOrigin`). */
export type IpAddressOrigin = "other" | "manual" | "dhcp" | "linklayer" | "random";
/** State of an address (RFC 4293 `IpAddressStatus`, nicinfo.x `IpAddressStatus`). */
export type IpAddressStatus =
  | "preferred"
  | "deprecated"
  | "invalid"
  | "inaccessible"
  | "unknown"
  | "tentative"
  | "duplicate"
  | "optimistic";

/** One IP address of a NIC. */
export interface NicAddress {
  /** IPv4 dotted quad, IPv6 in RFC 5952 text (`%zone` appended for zoned addresses), or a DNS name. */
  address: string;
  /** Prefix length, or null when the guest did not say (NIC report v1, or a v2 mask that is not contiguous). */
  prefixLength: number | null;
  /** How it was assigned (a number for a value nicinfo.x does not name), or null when the guest did not say. */
  origin: IpAddressOrigin | number | null;
  /** Its state (a number for a value nicinfo.x does not name), or null when the guest did not say. */
  status: IpAddressStatus | number | null;
}

/** Resolver configuration (nicinfo.x `DnsConfigInfo`), per NIC or global. */
export interface DnsConfig {
  /** Host name the resolver uses, or null. */
  hostName: string | null;
  /** Domain name the resolver uses, or null. */
  domainName: string | null;
  /** Name servers (at most 16). */
  servers: string[];
  /** Search suffixes (at most 10). */
  searchSuffixes: string[];
}

/** WINS servers (nicinfo.x `WinsConfigInfo`). */
export interface WinsConfig {
  /** Primary WINS server address. */
  primary: string;
  /** Secondary WINS server address. */
  secondary: string;
}

/** DHCP configuration (nicinfo.x `DhcpConfigInfo`): whether it is on, and the client's settings text. */
export interface DhcpConfig {
  /** Whether DHCP is on. */
  enabled: boolean;
  /** At most 16 384 bytes. */
  settings: string;
}

/** A network interface. */
export interface GuestNic {
  /** MAC address as the guest reports it (`00:50:56:…`). */
  mac: string;
  /** The NIC's addresses. */
  ips: NicAddress[];
  /** Per-NIC resolver configuration (v3), or null. */
  dns: DnsConfig | null;
  /** Per-NIC WINS servers (v3), or null. */
  wins: WinsConfig | null;
  /** Per-NIC DHCPv4 configuration (v3), or null. */
  dhcpv4: DhcpConfig | null;
  /** Per-NIC DHCPv6 configuration (v3), or null. */
  dhcpv6: DhcpConfig | null;
}

/** A route (nicinfo.x `InetCidrRouteEntry`, RFC 4292). */
export interface GuestRoute {
  /** Destination network. */
  destination: string;
  /** Destination prefix length in bits (0–32 for IPv4, 0–128 for IPv6). */
  prefixLength: number;
  /** Next hop, or null for a directly connected network. */
  nextHop: string | null;
  /** Index into the report's NIC list. */
  ifIndex: number;
  /**
   * RFC 4292 `InetCidrRouteType`, or the number for a value nicinfo.x does not name (open-vm-tools 12.2 on Linux
   * sends 0 for every route).
   */
  type: "other" | "reject" | "local" | "remote" | number;
  /** Route metric; null when the guest sent 0xFFFFFFFF ("-1 == unused"). */
  metric: number | null;
}

/** Which NIC report reached the host last. */
export interface NicReportInfo {
  /** `SetGuestInfo` type: 10 (IPADDRESS_V3), 9 (IPADDRESS_V2) or 2 (IPADDRESS). */
  type: number;
  /** Encoding: 3 (`NicInfoV3`), 2 (`GuestNicList`) or 1 (the native v1 struct). */
  version: number;
}

/** A `tools.vmsupport.status` value: the number and its name (`lib/include/vmsupport.h` `VMSupportStatus`). */
export interface VmsupportStatus {
  /** The status number the guest sent. */
  code: number;
  /** `notRunning` 0, `beginning` 1, `running` 2, `ending` 3, `error` 10, `unknown` 100; null for other numbers. */
  name: "notRunning" | "beginning" | "running" | "ending" | "error" | "unknown" | null;
}

/** A guest filesystem. */
export interface GuestDisk {
  /** Mount point or drive name, as the guest reports it. */
  name: string;
  /** Free space in bytes. */
  freeBytes: number;
  /** Size in bytes. */
  totalBytes: number;
  /** Filesystem type (`ext4`, …), or null when the report has none. */
  filesystem: string | null;
}

/** Everything the model knows, as plain data. */
export interface GuestStateSnapshot {
  /** The tools answered `reset` (TCLO) with `OK ATR …`, or sent RPCI. */
  toolsRunning: boolean;
  /** `tools.set.version` / `tools.set.versiontype` version number (12352 = 12.2.0; 2147483647 = unmanaged). */
  toolsVersion: number | null;
  /** `tools.set.versiontype` type (4 = open-vm-tools). */
  toolsVersionType: number | null;
  /** Service name from the reset reply (`toolbox`, `toolbox-dnd`). */
  toolsService: string | null;
  /** `SetGuestInfo 4` build string (`build-21223074`). */
  toolsBuild: string | null;
  /** `tools.capability.NAME ARGS` → ARGS, plus `vmx.capability.unified_loop`. */
  capabilities: Record<string, string>;
  /** `SetGuestInfo 1` DNS name. */
  hostname: string | null;
  /** `SetGuestInfo 6` short OS name. */
  osName: string | null;
  /** `SetGuestInfo 5` full OS name. */
  osNameFull: string | null;
  /** `SetGuestInfo 11` detailed OS data, decoded fields. */
  osDetailed: Record<string, string | number> | null;
  /** NICs from `SetGuestInfo 10` (v3) or `9`/`2` when that is all the guest sends. */
  nics: GuestNic[];
  /** Routes (v3 reports), IPv4 and IPv6. */
  routes: GuestRoute[];
  /** Global resolver configuration (v3), or null. */
  dns: DnsConfig | null;
  /** Global WINS servers (v3), or null. */
  wins: WinsConfig | null;
  /** Global DHCPv4 configuration (v3), or null. */
  dhcpv4: DhcpConfig | null;
  /** Global DHCPv6 configuration (v3), or null. */
  dhcpv6: DhcpConfig | null;
  /** Type and encoding of the NIC report the host decoded last, or null before the first. */
  nicReport: NicReportInfo | null;
  /** `info-set guestinfo.ip` (the primary IP, after `Set_Option broadcastIP 1`). */
  primaryIp: string | null;
  /** Disks from `SetGuestDiskInfo` (JSON) or `SetGuestInfo 3`. */
  disks: GuestDisk[];
  /** `SetGuestInfo 7`, converted to seconds (the guest sends hundredths). */
  uptimeSeconds: number | null;
  /** Parsed `guestinfo.appInfo` JSON, or null. */
  appInfo: unknown;
  /** Parsed `guestinfo.vmtools.containerinfo` JSON (the containerInfo plugin), or null. */
  containerInfo: unknown;
  /** `tools.vmsupport.status N` (`vmware-xferlogs upd N`, `vm-support -u`), last one, or null. */
  vmsupportStatus: VmsupportStatus | null;
  /** `tools.os.statechange.status OK STATE`, last one. */
  osStateChange: { success: boolean; state: number } | null;
  /** `vmx.set_option NAME OLD NEW` → NEW. */
  vmxOptions: Record<string, string>;
  /** Every guestinfo variable as text. */
  guestinfo: Record<string, string>;
  /** The newest log lines. */
  log: string[];
}

/** Fields that change-events name. */
export type GuestStateField = Exclude<keyof GuestStateSnapshot, "guestinfo" | "log"> | "guestinfo" | "log";

/** A change event. */
export interface GuestStateChange {
  /** The field of {@link GuestStateSnapshot} that changed. */
  field: GuestStateField;
  /** For `capabilities`, `vmxOptions` and `guestinfo`: the entry's name. */
  key?: string;
  /** The new value (plain data); for `guestinfo` the text, or null when the key was deleted; for `log` the line. */
  value: unknown;
}

/** What the model counted. */
export interface GuestStateCounters {
  /** Named entries dropped because {@link GUEST_MAX_NAMED_ENTRIES} was reached. */
  droppedEntries: number;
  /** Log lines dropped (oldest first) because {@link GUEST_LOG_MAX_LINES} were kept. */
  droppedLogLines: number;
}

type Scalar = Omit<GuestStateSnapshot, "capabilities" | "vmxOptions" | "guestinfo" | "log">;

/** The live model of what the guest reported. */
export class ReportedState {
  private s: Scalar = {
    toolsRunning: false,
    toolsVersion: null,
    toolsVersionType: null,
    toolsService: null,
    toolsBuild: null,
    hostname: null,
    osName: null,
    osNameFull: null,
    osDetailed: null,
    nics: [],
    routes: [],
    dns: null,
    wins: null,
    dhcpv4: null,
    dhcpv6: null,
    nicReport: null,
    primaryIp: null,
    disks: [],
    uptimeSeconds: null,
    appInfo: null,
    containerInfo: null,
    vmsupportStatus: null,
    osStateChange: null,
  };
  private readonly capabilities = new Map<string, string>();
  private readonly vmxOptions = new Map<string, string>();
  private readonly logLines: string[] = [];
  /** Every change, as it happens (guestinfo changes included, log lines as field `log`). */
  readonly changes = new EventSet<GuestStateChange>();
  /** What the model counted. */
  readonly counters: GuestStateCounters = { droppedEntries: 0, droppedLogLines: 0 };

  constructor(private readonly guestinfo: GuestinfoStore) {}

  /** Subscribe to changes (same as `changes.on`); returns the unsubscribe function. */
  on(listener: Listener<GuestStateChange>): () => void {
    return this.changes.on(listener);
  }

  /** Unsubscribe (same as `changes.off`). */
  off(listener: Listener<GuestStateChange>): boolean {
    return this.changes.off(listener);
  }

  /** @internal Emit a change (the guestinfo store's listener calls this too). */
  emit(c: GuestStateChange): void {
    this.changes.emit(c);
  }

  /** Set a scalar field; emits only when the value changed (by JSON comparison). */
  set<K extends keyof Scalar>(field: K, value: Scalar[K]): void {
    if (JSON.stringify(this.s[field]) === JSON.stringify(value)) return;
    this.s[field] = value;
    if (this.changes.size > 0) this.emit({ field, value });
  }

  /** Current value of a scalar field. */
  get<K extends keyof Scalar>(field: K): Scalar[K] {
    return this.s[field];
  }

  /** Record `tools.capability.NAME` (or another named capability). */
  setCapability(name: string, value: string): void {
    this.setNamed(this.capabilities, "capabilities", name, value);
  }

  /** Record `vmx.set_option NAME … NEW`. */
  setVmxOption(name: string, value: string): void {
    this.setNamed(this.vmxOptions, "vmxOptions", name, value);
  }

  private setNamed(map: Map<string, string>, field: GuestStateField, name: string, value: string): void {
    if (!map.has(name) && map.size >= GUEST_MAX_NAMED_ENTRIES) {
      this.counters.droppedEntries++;
      return;
    }
    if (map.get(name) === value) return;
    map.set(name, value);
    if (this.changes.size > 0) this.emit({ field, key: name, value });
  }

  /** Append a log line (cut to {@link GUEST_LOG_MAX_LINE}). */
  log(line: string): void {
    const l = line.length > GUEST_LOG_MAX_LINE ? line.slice(0, GUEST_LOG_MAX_LINE) : line;
    this.logLines.push(l);
    if (this.logLines.length > GUEST_LOG_MAX_LINES) {
      this.logLines.shift();
      this.counters.droppedLogLines++;
    }
    if (this.changes.size > 0) this.emit({ field: "log", value: l });
  }

  /** One consistent snapshot, as plain data (deep copies). */
  snapshot(): GuestStateSnapshot {
    const guestinfo: Record<string, string> = {};
    for (const [k, v] of this.guestinfo.entries()) guestinfo[k] = fromUtf8(v);
    return {
      ...structuredCloneScalar(this.s),
      capabilities: Object.fromEntries(this.capabilities),
      vmxOptions: Object.fromEntries(this.vmxOptions),
      guestinfo,
      log: this.logLines.slice(),
    };
  }
}

function structuredCloneScalar(s: Scalar): Scalar {
  return JSON.parse(JSON.stringify(s)) as Scalar;
}

/**
 * The former name of {@link ReportedState}.
 * @deprecated Use `ReportedState`.
 */
export const GuestState = ReportedState;
/**
 * The former name of {@link ReportedState}.
 * @deprecated Use `ReportedState`.
 */
export type GuestState = ReportedState;
