/**
 * `vmport/guest`: the VMware backdoor from inside a guest, for Node programs (x86-64).
 *
 * Emulates: what Go's vmw-guestinfo and Rust's vmw_backdoor offer. Works on VMware and under `vmport run`.
 * Call `detect()` first: every other function executes backdoor instructions in this process, which on a machine
 * without the backdoor kills it with SIGSEGV. Source of truth: `docs/protocol.md`, `docs/clients.md#vmports-own-guest-side`.
 * Does not: run on other architectures (VMPORT_GUEST_UNSUPPORTED), or use vsock.
 */
import { VmportError } from "../core/errors.js";
import { BDOOR_MAGIC, LB_PORT, call, getVersionHere } from "./backdoor.js";
import { rpc, type RpcOptions } from "./rpc.js";
import { GuestinfoStore } from "../channels/guestinfo-store.js";

export { detect, requireBackdoor, hypervisorSignature, type Detection, BDOOR_MAGIC } from "./backdoor.js";
export { rpc, type RpcReply, type RpcOptions, MAX_MESSAGE } from "./rpc.js";

/** GETVERSION: version (6 on VMware) and product type (2 = ESX Server, 4 = Workstation). */
export function getVersion(): { version: number; productType: number } {
  const r = getVersionHere();
  if (r.magic !== BDOOR_MAGIC) throw new VmportError("VMPORT_GUEST_NOT_VMWARE", "GETVERSION did not return the magic");
  return { version: r.version, productType: r.productType };
}

const key = (k: string): string => GuestinfoStore.withPrefix(k);

/** guestinfo variables (prefix optional). */
export const guestinfo = {
  /** The value, or null when the host has none ("0 No value found"). */
  get(k: string, o?: RpcOptions): string | null {
    const r = rpc(`info-get ${key(k)}`, o);
    if (r.ok) return r.text;
    if (r.text === "No value found") return null;
    throw new VmportError("VMPORT_GUEST_RPC", `info-get ${key(k)}: ${r.text}`);
  },
  /** Set a value. */
  set(k: string, value: string, o?: RpcOptions): void {
    const r = rpc(`info-set ${key(k)} ${value}`, o);
    if (!r.ok) throw new VmportError("VMPORT_GUEST_RPC", `info-set ${key(k)}: ${r.text}`);
  },
};

/** Write a line to the host's log. */
export function log(line: string, o?: RpcOptions): void {
  const r = rpc(`log ${line}`, o);
  if (!r.ok) throw new VmportError("VMPORT_GUEST_RPC", `log: ${r.text}`);
}

/** Host time (GETTIMEFULL): a Date with µs precision lost to ms, plus the raw µs and the max lag. */
export function hostTime(): { date: Date; seconds: number; micros: number; maxLagMicros: number } {
  const r = call("in", { ecx: 46, edx: LB_PORT });
  if (r.eax !== BDOOR_MAGIC) throw new VmportError("VMPORT_GUEST_RPC", "GETTIMEFULL is not supported by this host");
  const seconds = r.esi * 0x1_0000_0000 + r.edx;
  return { date: new Date(seconds * 1000 + Math.floor(r.ebx / 1000)), seconds, micros: r.ebx, maxLagMicros: r.ecx };
}
