/**
 * The host's answers during one fuzz run, numbered in the order the guest asked: what was mutated, and how. A
 * finding keeps this record; `--replay` gives exactly these answers again (no randomness), `--minimize` turns
 * mutations back into the honest answer one by one.
 *
 * Emulates: nothing. Answer points, in the order the engine meets them: an RPCI reply (`rpci`), the registers of a
 * low-bandwidth command (`lb`), a message-channel step (`step`, may fail), a high-bandwidth transfer (`hb`, may
 * fail). Each point the guest reaches gets the next index, mutated or not, so a replay lines up as long as the
 * program asks the same things in the same order.
 * Does not: keep honest answers (only their index and what was asked), so a record stays small.
 */

/** One mutated answer. */
export type MutatedAnswer =
  | { i: number; kind: "rpci"; command: string; mutation: string; reply: { base64: string } }
  | { i: number; kind: "lb"; command: number; mutation: string; regs: Record<string, number> }
  | { i: number; kind: "step"; type: number; mutation: "fail" }
  | { i: number; kind: "hb"; direction: "in" | "out"; mutation: "fail" };

/** The answers of one run. */
export interface AnswerRecord {
  /** Answer points reached. */
  points: number;
  /** The ones that were mutated, in order. */
  mutated: MutatedAnswer[];
}

/** Standard base64 of bytes (Node and browsers). */
export function toB64(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

/** Bytes of standard base64. */
export function fromB64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

/** Registers an `lb` entry may set. */
const REG_NAMES = new Set(["eax", "ebx", "ecx", "edx", "esi", "edi", "ebp"]);

/**
 * Check a record read from a finding file: every entry well-formed, indices strictly increasing.
 * @returns the first problem, or null
 */
export function validateRecord(r: unknown): string | null {
  if (typeof r !== "object" || r === null) return "answers: expected an object";
  const o = r as { points?: unknown; mutated?: unknown };
  if (typeof o.points !== "number" || !Number.isSafeInteger(o.points) || o.points < 0) return "answers.points: expected a count";
  if (!Array.isArray(o.mutated)) return "answers.mutated: expected an array";
  let last = -1;
  for (const [n, e] of o.mutated.entries()) {
    const m = e as Partial<MutatedAnswer> & Record<string, unknown>;
    if (typeof m !== "object" || m === null || typeof m.i !== "number" || !Number.isSafeInteger(m.i) || m.i <= last)
      return `answers.mutated[${n}]: expected increasing indices`;
    last = m.i;
    const b64 = (m["reply"] as { base64?: unknown } | undefined)?.base64;
    // Checked here: the bytes are decoded inside the engine's answer hook, which must not throw.
    if (
      m.kind === "rpci" &&
      typeof m["command"] === "string" &&
      typeof b64 === "string" &&
      b64.length % 4 === 0 &&
      /^[A-Za-z0-9+/]*={0,2}$/.test(b64)
    )
      continue;
    if (
      m.kind === "lb" &&
      typeof m["command"] === "number" &&
      typeof m["regs"] === "object" &&
      m["regs"] !== null &&
      Object.entries(m["regs"]).every(
        ([k, v]) => REG_NAMES.has(k) && Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff,
      )
    )
      continue;
    if ((m.kind === "step" || m.kind === "hb") && m["mutation"] === "fail") continue;
    return `answers.mutated[${n}]: unknown or malformed entry`;
  }
  return null;
}
