/**
 * The guest as a VMware host sees it: tools status, identity, OS, NICs, disks, uptime, app info, guestinfo.
 *
 * Emulates: what vCenter shows for a VM (`GuestInfo` in the vSphere API), fed by RPCI (`SetGuestInfo`,
 * `tools.set.version*`, `tools.capability.*`, `info-set guestinfo.*`, `log`) and by TCLO results (`reset`).
 * Readable as one snapshot and as change events.
 * Source of truth: open-vm-tools `services/plugins/guestInfo/`, `lib/include/guestInfo.h`; `real-clients.md` §2.5.
 * Does not: keep history (only the latest value of each field, plus a bounded log ring).
 */
import { fromUtf8 } from "../core/text.js";
import type { GuestinfoStore } from "./guestinfo-store.js";

/** Log lines kept (`log` RPCI and `guest.log.text`), oldest dropped first. */
export const GUEST_LOG_MAX_LINES = 1000;
/** Longest log line kept, in characters; longer lines are cut. */
export const GUEST_LOG_MAX_LINE = 4096;
/** Most distinct `tools.capability.*` / `vmx.set_option` names kept; further new names are counted and dropped. */
export const GUEST_MAX_NAMED_ENTRIES = 256;

/** One IP address of a NIC. */
export interface NicAddress {
  address: string;
  /** Prefix length, or null when the guest did not say. */
  prefixLength: number | null;
}

/** A network interface. */
export interface GuestNic {
  /** MAC address as the guest reports it (`00:50:56:…`). */
  mac: string;
  ips: NicAddress[];
}

/** A guest filesystem. */
export interface GuestDisk {
  name: string;
  freeBytes: number;
  totalBytes: number;
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
  /** `info-set guestinfo.ip` (the primary IP, after `Set_Option broadcastIP 1`). */
  primaryIp: string | null;
  /** Disks from `SetGuestDiskInfo` (JSON) or `SetGuestInfo 3`. */
  disks: GuestDisk[];
  /** `SetGuestInfo 7`, converted to seconds (the guest sends hundredths). */
  uptimeSeconds: number | null;
  /** Parsed `guestinfo.appInfo` JSON, or null. */
  appInfo: unknown;
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
  field: GuestStateField;
  /** For `capabilities`, `vmxOptions` and `guestinfo`: the entry's name. */
  key?: string;
  value: unknown;
}

type Scalar = Omit<GuestStateSnapshot, "capabilities" | "vmxOptions" | "guestinfo" | "log">;

/** The live model. */
export class GuestState {
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
    primaryIp: null,
    disks: [],
    uptimeSeconds: null,
    appInfo: null,
    osStateChange: null,
  };
  private readonly capabilities = new Map<string, string>();
  private readonly vmxOptions = new Map<string, string>();
  private readonly logLines: string[] = [];
  private readonly listeners = new Set<(c: GuestStateChange) => void>();
  /** Named entries dropped because {@link GUEST_MAX_NAMED_ENTRIES} was reached. */
  droppedEntries = 0;

  constructor(private readonly guestinfo: GuestinfoStore) {}

  /** Subscribe to changes; returns the unsubscribe function. */
  on(listener: (c: GuestStateChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** @internal Emit a change (the guestinfo store's hook calls this too). */
  emit(c: GuestStateChange): void {
    for (const l of this.listeners) l(c);
  }

  /** Set a scalar field; emits only when the value changed (by JSON comparison). */
  set<K extends keyof Scalar>(field: K, value: Scalar[K]): void {
    if (JSON.stringify(this.s[field]) === JSON.stringify(value)) return;
    this.s[field] = value;
    this.emit({ field, value });
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
      this.droppedEntries++;
      return;
    }
    if (map.get(name) === value) return;
    map.set(name, value);
    this.emit({ field, key: name, value });
  }

  /** Append a log line (cut to {@link GUEST_LOG_MAX_LINE}). */
  log(line: string): void {
    const l = line.length > GUEST_LOG_MAX_LINE ? line.slice(0, GUEST_LOG_MAX_LINE) : line;
    this.logLines.push(l);
    if (this.logLines.length > GUEST_LOG_MAX_LINES) this.logLines.shift();
    this.emit({ field: "log", value: l });
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
