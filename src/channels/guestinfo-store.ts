/**
 * The guestinfo key/value store behind `info-get` / `info-set`.
 *
 * Emulates: the VMX's `guestinfo.*` variables, readable and writable by the guest and by the host (`.vmx` file,
 * vSphere API). Keys are case-insensitive, as `.vmx` keys are (vmwgfx asks for `GuestInfo.svga.gl3`); the first
 * spelling set is kept for display. Values are bytes (a guest may store anything); text views decode UTF-8.
 * Source of truth: `docs/protocol.md` §7 and `docs/clients.md#cloud-init` (cloud-init's exact texts); bounds are vmport's
 * (QEMU vmport_rpc used 128-byte keys, 8 KiB values, 256 keys — too small for cloud-init user data).
 * Does not: know the state file's format: {@link GuestinfoStore.saveState} / {@link GuestinfoStore.restoreState}
 * give and take plain data, `src/vm/persistence.ts` composes it into the file.
 */
import { VmportError } from "../core/errors.js";
import { fromUtf8, utf8 } from "../core/text.js";
import { EventSet } from "../core/events.js";
import { badState, stateBytes } from "../core/saved-state.js";

/** Every guestinfo key starts with this (compared case-insensitively). */
export const GUESTINFO_PREFIX = "guestinfo.";
/** Longest key in bytes, prefix included. */
export const GUESTINFO_MAX_KEY_BYTES = 256;
/** Longest value in bytes: `"1 "` + value must fit one 64 KiB reply. */
export const GUESTINFO_MAX_VALUE_BYTES = 65536 - 2;
/** Most keys a VM holds. */
export const GUESTINFO_MAX_KEYS = 1024;
/** Most bytes of keys + values a VM holds. */
export const GUESTINFO_MAX_TOTAL_BYTES = 8 * 1024 * 1024;

/** Why a set was refused; the RPCI reply text for each is in {@link GUESTINFO_REFUSALS}. */
export type GuestinfoRefusal = "key-too-long" | "value-too-long" | "too-many-keys" | "store-full" | "not-guestinfo";

/** RPCI reply texts for refusals (after `"0 "`), as QEMU vmport_rpc words them where it has one. */
export const GUESTINFO_REFUSALS: Readonly<Record<GuestinfoRefusal, string>> = {
  "key-too-long": "Key is too long",
  "value-too-long": "Value too long",
  "too-many-keys": "Too many keys",
  "store-full": "Too much guestinfo data",
  "not-guestinfo": "Invalid key",
};

interface Entry {
  key: string;
  value: Uint8Array;
}

/** A change to the store: value null = deleted. */
export interface GuestinfoChange {
  /** The key as first spelled (with its `guestinfo.` prefix). */
  key: string;
  /** The new value. */
  value: Uint8Array | null;
  /** Who changed it: the guest (`info-set`) or the host. */
  by: "guest" | "host";
}

/** The store's contents as plain data: `[key, value][]`, keys with their `guestinfo.` prefix. */
export type GuestinfoSavedState = [string, Uint8Array][];

/**
 * Validate `v` as a {@link GuestinfoSavedState} against every bound of the store (in a scratch store) and return
 * it.
 * @throws VmportError VMPORT_BAD_STATE naming the first bad entry (`guestinfo["KEY"]`).
 */
export function checkGuestinfoSavedState(v: unknown): GuestinfoSavedState {
  if (!Array.isArray(v)) badState("guestinfo", "expected an array of [key, value]");
  const scratch = new GuestinfoStore();
  const out: GuestinfoSavedState = [];
  for (const item of v as unknown[]) {
    if (!Array.isArray(item) || item.length !== 2 || typeof item[0] !== "string")
      badState("guestinfo", "expected an array of [key, value]");
    const [k, value] = item as [string, unknown];
    const field = `guestinfo["${k}"]`;
    const bytes = stateBytes(field, value);
    const refusal = scratch.trySet(k, bytes, "host");
    if (refusal !== null) badState(field, refusal);
    out.push([k, bytes]);
  }
  return out;
}

/** The store. */
export class GuestinfoStore {
  private readonly map = new Map<string, Entry>();
  private totalBytes = 0;
  /** Every change, after it was applied. */
  readonly changes = new EventSet<GuestinfoChange>();
  /** Incremented by every change (set or delete): a cheap "did anything change" for state saving. */
  generation = 0;

  /** `key` normalised for lookup and comparison: ASCII letters lowercased, nothing else changed. */
  static normalizeKey(key: string): string {
    // ASCII only: full Unicode case folding would merge distinct keys (the Kelvin sign K and "k").
    return key.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
  }

  /** True when `key` is in the guestinfo namespace. */
  static isGuestinfoKey(key: string): boolean {
    return key.length > GUESTINFO_PREFIX.length && GuestinfoStore.normalizeKey(key.slice(0, GUESTINFO_PREFIX.length)) === GUESTINFO_PREFIX;
  }

  /** `key` with the `guestinfo.` prefix (any case) it may already have, or with one added: the rule every front end uses. */
  static withPrefix(key: string): string {
    return GuestinfoStore.isGuestinfoKey(key) ? key : GUESTINFO_PREFIX + key;
  }

  /** The value of `key`, or undefined. */
  get(key: string): Uint8Array | undefined {
    return this.map.get(GuestinfoStore.normalizeKey(key))?.value;
  }

  /** The value of `key` as text, or undefined. */
  getText(key: string): string | undefined {
    const v = this.get(key);
    return v === undefined ? undefined : fromUtf8(v);
  }

  /** Why `set(key, value)` would be refused, or null. */
  check(key: string, value: Uint8Array): GuestinfoRefusal | null {
    if (!GuestinfoStore.isGuestinfoKey(key)) return "not-guestinfo";
    const keyBytes = utf8(key).length;
    if (keyBytes > GUESTINFO_MAX_KEY_BYTES) return "key-too-long";
    if (value.length > GUESTINFO_MAX_VALUE_BYTES) return "value-too-long";
    const old = this.map.get(GuestinfoStore.normalizeKey(key));
    if (!old && this.map.size >= GUESTINFO_MAX_KEYS) return "too-many-keys";
    const delta = value.length + (old ? -old.value.length : keyBytes);
    if (this.totalBytes + delta > GUESTINFO_MAX_TOTAL_BYTES) return "store-full";
    return null;
  }

  /** Set from the guest: returns the refusal, or null when stored. */
  trySet(key: string, value: Uint8Array, by: "guest" | "host" = "guest"): GuestinfoRefusal | null {
    const refusal = this.check(key, value);
    if (refusal !== null) return refusal;
    const n = GuestinfoStore.normalizeKey(key);
    const old = this.map.get(n);
    this.totalBytes += value.length + (old ? -old.value.length : utf8(key).length);
    const copy = value.slice();
    this.map.set(n, { key: old?.key ?? key, value: copy });
    this.generation++;
    if (this.changes.size > 0) this.changes.emit({ key: old?.key ?? key, value: copy, by });
    return null;
  }

  /**
   * Set from the host. Accepts a key with or without the `guestinfo.` prefix.
   * @throws VmportError VMPORT_GUESTINFO_LIMIT naming the bound that refused it.
   */
  set(key: string, value: string | Uint8Array): void {
    const k = GuestinfoStore.withPrefix(key);
    const v = typeof value === "string" ? utf8(value) : value;
    const refusal = this.trySet(k, v, "host");
    if (refusal !== null) {
      throw new VmportError(
        "VMPORT_GUESTINFO_LIMIT",
        `guestinfo "${k}": ${GUESTINFO_REFUSALS[refusal]} (limits: key ${GUESTINFO_MAX_KEY_BYTES} B, value ${GUESTINFO_MAX_VALUE_BYTES} B, ${GUESTINFO_MAX_KEYS} keys, ${GUESTINFO_MAX_TOTAL_BYTES} B in all)`,
      );
    }
  }

  /** Delete `key` (host side). Returns whether it existed. */
  delete(key: string): boolean {
    const n = GuestinfoStore.normalizeKey(GuestinfoStore.withPrefix(key));
    const old = this.map.get(n);
    if (!old) return false;
    this.map.delete(n);
    this.totalBytes -= old.value.length + utf8(old.key).length;
    this.generation++;
    if (this.changes.size > 0) this.changes.emit({ key: old.key, value: null, by: "host" });
    return true;
  }

  /** Every entry, in insertion order. */
  entries(): [string, Uint8Array][] {
    return [...this.map.values()].map((e) => [e.key, e.value]);
  }

  /** Number of keys. */
  get size(): number {
    return this.map.size;
  }

  /** Bytes of keys + values held. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** Remove everything (no change events). */
  clear(): void {
    this.map.clear();
    this.totalBytes = 0;
  }

  /** Every entry as plain data (copies of the values), in insertion order; keys keep their first spelling. */
  saveState(): GuestinfoSavedState {
    return this.entries().map(([k, v]) => [k, v.slice()]);
  }

  /**
   * Replace every entry with `v`'s. Each entry is checked against the store's bounds first; then every old key
   * is deleted and every new one set, with a change event (`by: "host"`) for each.
   * @throws VmportError VMPORT_BAD_STATE naming the first bad entry (`guestinfo["KEY"]`); nothing is applied then.
   */
  restoreState(v: unknown): void {
    const entries = checkGuestinfoSavedState(v);
    for (const [k] of this.entries()) this.delete(k);
    for (const [k, b] of entries) this.trySet(k, b, "host");
  }
}
