/**
 * Reading host-supplied objects (profiles, durable state, CLI tables) by their own keys only.
 *
 * Emulates: nothing. Guards against keys that every JavaScript object answers through its prototype —
 * `__proto__`, `constructor`, `toString`, `hasOwnProperty`, … — being taken for known keys: a lookup such as
 * `table[name]` or a check such as `name in defaults` would accept them silently (`src/devices/profile.test.ts` pins
 * the refusal at every level of a profile).
 * Source of truth: ECMAScript `Object.hasOwn`; `JSON.parse` makes `"__proto__"` an ordinary own key.
 * Does not: validate values; callers do, naming the key.
 */

/** The own property `key` of `o`, or undefined — never an inherited one. */
export function ownValue(o: object, key: string): unknown {
  return Object.hasOwn(o, key) ? (o as Record<string, unknown>)[key] : undefined;
}

/** `table[key]` when `key` is one of the table's own keys, else undefined (so `"constructor"` is not a key). */
export function lookupOwn<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** The first own key of `o` (enumerable or not, `"__proto__"` included) that is not in `known`, or null. */
export function unknownOwnKey(o: object, known: readonly string[]): string | null {
  for (const k of Reflect.ownKeys(o)) {
    if (typeof k !== "string" || !known.includes(k)) return String(k);
  }
  return null;
}
