/**
 * The namespace database: named namespaces of key → value entries that a VMX keeps for the guest, and its two
 * RPCs, `namespace-priv-set-keys` and `namespace-priv-get-values`.
 *
 * Emulates: the VMX's namespace DB as `vmware-namespace-cmd` (set-key, get-value, delete-key), vgauthImport and the
 * serviceDiscovery plugin use it. Requests are NUL-separated fields after the command name and one space:
 * - set-keys: `NAMESPACE\0NUMOPS\0` then NUMOPS × `OP\0KEY\0VALUE\0OLDVALUE\0` (extra trailing NULs allowed: the
 *   serviceDiscovery plugin appends one). OP `0` sets always; OP `1` sets only if the current value (empty when the
 *   key is absent) equals OLDVALUE. An empty VALUE deletes the key. A request is applied whole or not at all.
 * - get-values: `NAMESPACE\0KEY\0KEY\0…`; the reply is each value followed by a NUL, an absent key as an empty value.
 * Source of truth: open-vm-tools stable-12.2.0 `namespacetool/namespacetool.c` (request layout, op codes, the
 * 16 KiB value limit, how the reply is printed), `services/plugins/serviceDiscovery/serviceDiscovery.c` and
 * `vgauthImport/vgauthImport.c` (the same layout from two more clients).
 * Divergences, documented in the README: ESX accepts these commands only on the privileged vsock channel, which
 * vmport cannot offer, so vmport serves them on the backdoor; on ESX a namespace exists only once the host created
 * it (vSphere's NamespaceManager), vmport creates it at the guest's first write. Failure texts are vmport's own
 * (clients print them after "failure: ").
 * Does not: enforce per-namespace access rights or event queues (NamespaceManager's other features).
 */
import { VmportError } from "../core/errors.js";
import { concatBytes, fromUtf8, fromUtf8Strict, utf8 } from "../core/text.js";
import { EventSet } from "../core/events.js";
import { badState, stateBytes } from "../core/saved-state.js";

/** Namespaces kept at once. */
export const NAMESPACE_MAX_NAMESPACES = 64;
/** Longest namespace name, in bytes. */
export const NAMESPACE_MAX_NAME_BYTES = 128;
/** Keys per namespace. */
export const NAMESPACE_MAX_KEYS = 1024;
/** Longest key, in bytes. */
export const NAMESPACE_MAX_KEY_BYTES = 256;
/** Longest value, in bytes (`SUPPORTED_FILE_SIZE_IN_BYTES` in namespacetool.c: 16 KiB). */
export const NAMESPACE_MAX_VALUE_BYTES = 16 * 1024;
/** Keys and values of every namespace together, in bytes. */
export const NAMESPACE_MAX_TOTAL_BYTES = 4 * 1024 * 1024;
/** Operations in one set-keys request. */
export const NAMESPACE_MAX_OPS = 128;

/** Why a namespace write was refused: the `"0 …"` text. */
export const NamespaceRefusal = {
  MALFORMED: "Malformed request",
  BAD_NAME: "Invalid namespace name",
  BAD_KEY: "Invalid key",
  VALUE_TOO_LONG: "Value is too long",
  BAD_OP: "Invalid operation",
  MISMATCH: "Old value does not match",
  NO_NAMESPACE: "Namespace does not exist",
  TOO_MANY_NAMESPACES: "Too many namespaces",
  TOO_MANY_KEYS: "Too many keys",
  FULL: "Namespace database is full",
} as const;

/** One change, the event of {@link NamespaceDb.changes}. */
export interface NamespaceChange {
  /** The namespace the key belongs to. */
  namespace: string;
  /** The key that changed. */
  key: string;
  /** The new value, or null when the key was deleted. */
  value: Uint8Array | null;
}

/** A set-keys operation, parsed. */
interface SetOp {
  op: "set" | "compareAndSet";
  key: string;
  value: Uint8Array;
  oldValue: Uint8Array;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Split NUL-terminated fields; null when the last field is not terminated. */
function fields(b: Uint8Array): Uint8Array[] | null {
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < b.length) {
    const nul = b.indexOf(0, i);
    if (nul < 0) return null;
    out.push(b.subarray(i, nul));
    i = nul + 1;
  }
  return out;
}

/** A name or key: non-empty UTF-8 of at most `max` bytes with no control characters; else null. */
function nameText(b: Uint8Array, max: number): string | null {
  if (b.length === 0 || b.length > max) return null;
  const t = fromUtf8Strict(b);
  return t !== null && !/[\u0000-\u001f\u007f]/.test(t) ? t : null;
}

/** The namespace database as plain data: `[namespace, [key, value][]][]`, in insertion order. */
export type NamespaceSavedState = [string, [string, Uint8Array][]][];

/**
 * Validate `v` as a {@link NamespaceSavedState} by building it in a scratch database, so every bound is checked
 * the way a guest write is.
 * @throws VmportError VMPORT_BAD_STATE naming the first bad field (`namespaces["NS"]`, `namespaces["NS"]["KEY"]`).
 */
export function checkNamespaceSavedState(v: unknown): NamespaceDb {
  if (!Array.isArray(v)) badState("namespaces", "expected an array of [namespace, entries]");
  const db = new NamespaceDb();
  for (const item of v as unknown[]) {
    if (!Array.isArray(item) || item.length !== 2 || typeof item[0] !== "string" || !Array.isArray(item[1])) {
      badState("namespaces", "expected an array of [namespace, entries]");
    }
    const [ns, entries] = item as [string, unknown[]];
    try {
      db.create(ns);
    } catch (e) {
      badState(`namespaces["${ns}"]`, (e as Error).message);
    }
    for (const entry of entries) {
      if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string")
        badState(`namespaces["${ns}"]`, "expected [key, value] entries");
      const [k, value] = entry as [string, unknown];
      const field = `namespaces["${ns}"]["${k}"]`;
      const bytes = stateBytes(field, value);
      if (bytes.length === 0) badState(field, "empty values are deletions and are not stored");
      try {
        db.set(ns, k, bytes);
      } catch (e) {
        badState(field, (e as Error).message);
      }
    }
  }
  return db;
}

/** The database; guest requests go through {@link NamespaceDb.setKeys} and {@link NamespaceDb.getValues}. */
export class NamespaceDb {
  private readonly spaces = new Map<string, Map<string, Uint8Array>>();
  private bytes = 0;
  /** Every applied change, one event per key. */
  readonly changes = new EventSet<NamespaceChange>();
  /** Incremented by every applied change: a cheap "did anything change" for state saving. */
  generation = 0;

  /** Bytes used by keys and values. */
  get totalBytes(): number {
    return this.bytes;
  }

  /** Namespace names. */
  names(): string[] {
    return [...this.spaces.keys()];
  }

  /** The value of `key` in `namespace`, or undefined. */
  get(namespace: string, key: string): Uint8Array | undefined {
    return this.spaces.get(namespace)?.get(key);
  }

  /** Every namespace with its entries (copies), in insertion order. */
  entries(): [string, [string, Uint8Array][]][] {
    return [...this.spaces].map(([ns, m]) => [ns, [...m].map(([k, v]) => [k, v.slice()] as [string, Uint8Array])]);
  }

  /** Remove everything (no change events). */
  clear(): void {
    this.spaces.clear();
    this.bytes = 0;
  }

  /** Replace the whole contents with a copy of `other`'s (no change events); `other` was validated as it was built. */
  replaceWith(other: NamespaceDb): void {
    this.clear();
    for (const [ns, entries] of other.entries()) this.spaces.set(ns, new Map(entries));
    this.bytes = other.bytes;
    this.generation++;
  }

  /** The whole database as plain data (copies): namespace → its entries, in insertion order. */
  saveState(): NamespaceSavedState {
    return this.entries();
  }

  /**
   * Replace the whole database with `v` (no change events). Every namespace, key and value is checked against
   * the bounds a guest write meets; an empty value is refused (it would be a deletion).
   * @throws VmportError VMPORT_BAD_STATE naming the first bad field (`namespaces["NS"]["KEY"]`); nothing is
   * applied then.
   */
  restoreState(v: unknown): void {
    this.replaceWith(checkNamespaceSavedState(v));
  }

  /**
   * Create `namespace` from the host side if it does not exist (as vSphere's NamespaceManager does).
   * @throws VmportError VMPORT_BAD_ARGUMENT for a bad name or when {@link NAMESPACE_MAX_NAMESPACES} exist.
   */
  create(namespace: string): void {
    const ns = nameText(utf8(namespace), NAMESPACE_MAX_NAME_BYTES);
    if (ns === null) throw new VmportError("VMPORT_BAD_ARGUMENT", `namespace "${namespace}": ${NamespaceRefusal.BAD_NAME}`);
    if (this.spaces.has(ns)) return;
    if (this.spaces.size >= NAMESPACE_MAX_NAMESPACES)
      throw new VmportError("VMPORT_BAD_ARGUMENT", `namespace "${namespace}": ${NamespaceRefusal.TOO_MANY_NAMESPACES}`);
    this.spaces.set(ns, new Map());
  }

  /**
   * Set (or with `null`, delete) one entry from the host side, creating the namespace if needed.
   * @throws VmportError VMPORT_BAD_ARGUMENT naming the bound that refuses it.
   */
  set(namespace: string, key: string, value: string | Uint8Array | null): void {
    const v = value === null ? new Uint8Array(0) : typeof value === "string" ? utf8(value) : value;
    const refusal = this.apply(utf8(namespace), [{ op: "set", key, value: v, oldValue: new Uint8Array(0) }]);
    if (refusal !== null) throw new VmportError("VMPORT_BAD_ARGUMENT", `namespace "${namespace}" key "${key}": ${refusal}`);
  }

  /**
   * `namespace-priv-set-keys` arguments (everything after the command name and its space).
   * @returns null when applied, else the refusal text (nothing was changed).
   */
  setKeys(args: Uint8Array): string | null {
    const f = fields(args);
    if (f === null || f.length < 2) return NamespaceRefusal.MALFORMED;
    const count = fromUtf8(f[1]!);
    if (!/^\d{1,4}$/.test(count) || Number(count) < 1 || Number(count) > NAMESPACE_MAX_OPS) return NamespaceRefusal.MALFORMED;
    const n = Number(count);
    if (f.length < 2 + 4 * n || f.slice(2 + 4 * n).some((x) => x.length > 0)) return NamespaceRefusal.MALFORMED;
    const ops: SetOp[] = [];
    for (let i = 0; i < n; i++) {
      const [op, key, value, oldValue] = f.slice(2 + 4 * i, 6 + 4 * i) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
      const code = fromUtf8(op);
      if (code !== "0" && code !== "1") return NamespaceRefusal.BAD_OP;
      const k = nameText(key, NAMESPACE_MAX_KEY_BYTES);
      if (k === null) return NamespaceRefusal.BAD_KEY;
      ops.push({ op: code === "0" ? "set" : "compareAndSet", key: k, value, oldValue });
    }
    return this.apply(f[0]!, ops);
  }

  /**
   * `namespace-priv-get-values` arguments. Returns the reply bytes (each value then a NUL) or a refusal text.
   */
  getValues(args: Uint8Array): { ok: true; reply: Uint8Array } | { ok: false; refusal: string } {
    const f = fields(args);
    if (f === null || f.length < 1) return { ok: false, refusal: NamespaceRefusal.MALFORMED };
    const ns = nameText(f[0]!, NAMESPACE_MAX_NAME_BYTES);
    if (ns === null) return { ok: false, refusal: NamespaceRefusal.BAD_NAME };
    const space = this.spaces.get(ns);
    if (space === undefined) return { ok: false, refusal: NamespaceRefusal.NO_NAMESPACE };
    const parts: Uint8Array[] = [];
    const nul = new Uint8Array(1);
    for (const keyBytes of f.slice(1)) {
      const k = nameText(keyBytes, NAMESPACE_MAX_KEY_BYTES);
      if (k === null) return { ok: false, refusal: NamespaceRefusal.BAD_KEY };
      parts.push(space.get(k) ?? new Uint8Array(0), nul);
    }
    return { ok: true, reply: concatBytes(...parts) };
  }

  /** Validate every op against the bounds and the current values, then apply them all. */
  private apply(nsBytes: Uint8Array, ops: SetOp[]): string | null {
    const ns = nameText(nsBytes, NAMESPACE_MAX_NAME_BYTES);
    if (ns === null) return NamespaceRefusal.BAD_NAME;
    const existing = this.spaces.get(ns);
    if (existing === undefined && this.spaces.size >= NAMESPACE_MAX_NAMESPACES) return NamespaceRefusal.TOO_MANY_NAMESPACES;
    // Work on a copy of the namespace: ops see the effect of earlier ops in the same request.
    const next = new Map(existing ?? []);
    let bytes = this.bytes;
    for (const o of ops) {
      if (nameText(utf8(o.key), NAMESPACE_MAX_KEY_BYTES) === null) return NamespaceRefusal.BAD_KEY;
      if (o.value.length > NAMESPACE_MAX_VALUE_BYTES) return NamespaceRefusal.VALUE_TOO_LONG;
      const cur = next.get(o.key);
      if (o.op === "compareAndSet" && !bytesEqual(cur ?? new Uint8Array(0), o.oldValue)) return NamespaceRefusal.MISMATCH;
      const keyBytes = utf8(o.key).length;
      if (cur !== undefined) bytes -= keyBytes + cur.length;
      if (o.value.length === 0) next.delete(o.key);
      else {
        next.set(o.key, o.value.slice());
        bytes += keyBytes + o.value.length;
      }
    }
    if (next.size > NAMESPACE_MAX_KEYS) return NamespaceRefusal.TOO_MANY_KEYS;
    if (bytes > NAMESPACE_MAX_TOTAL_BYTES) return NamespaceRefusal.FULL;
    if (existing === undefined && next.size === 0) return null; // deleting from a namespace that does not exist
    this.spaces.set(ns, next);
    this.bytes = bytes;
    this.generation++;
    if (this.changes.size > 0) for (const o of ops) this.changes.emit({ namespace: ns, key: o.key, value: next.get(o.key) ?? null });
    return null;
  }
}
