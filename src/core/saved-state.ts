/**
 * Validation helpers shared by every component's `restoreState`: one error code and one way of naming the bad
 * field, so a refused state file reads the same whichever component refused it.
 *
 * Emulates: nothing (host-side input checking).
 * Source of truth: `docs/architecture.md` (durable state: each component saves and restores its own part,
 * `src/vm/persistence.ts` composes them).
 * Does not: know any component's fields. Reads own keys only (see `own-keys.ts`).
 */
import { VmportError } from "./errors.js";
import { unknownOwnKey } from "./own-keys.js";

/**
 * Refuse a saved state naming the field.
 * @throws VmportError VMPORT_BAD_STATE, always: `state field "FIELD": WHY`.
 */
export function badState(field: string, why: string): never {
  throw new VmportError("VMPORT_BAD_STATE", `state field "${field}": ${why}`);
}

/**
 * `v` as a plain object (not null, not an array) whose own keys are all in `known`.
 * @throws VmportError VMPORT_BAD_STATE naming `field`, or `field.KEY` for an unknown key.
 */
export function stateRecord(field: string, v: unknown, known: readonly string[], expected: string): object {
  if (typeof v !== "object" || v === null || Array.isArray(v)) badState(field, `expected ${expected}`);
  const extra = unknownOwnKey(v, known);
  if (extra !== null) badState(`${field}.${extra}`, `unknown key (known: ${known.join(", ")})`);
  return v;
}

/**
 * `v` as a plain object with any keys (a map from names to values).
 * @throws VmportError VMPORT_BAD_STATE naming `field`.
 */
export function stateMap(field: string, v: unknown): object {
  if (typeof v !== "object" || v === null || Array.isArray(v)) badState(field, "expected an object");
  return v;
}

/**
 * `v` as a `Uint8Array` (a component's saved bytes).
 * @throws VmportError VMPORT_BAD_STATE naming `field`.
 */
export function stateBytes(field: string, v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) badState(field, "expected bytes");
  return v;
}
