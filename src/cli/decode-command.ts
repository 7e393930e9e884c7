/**
 * `vmport decode --mode MODE HEX|-`: what the intercept's decoder makes of a byte string.
 *
 * Output, one JSON line per input: `{"op","size","length","rep","port","fault"}` — op null when the first
 * instruction is not IN/OUT/INS/OUTS/RDPMC; fault "GP" (longer than 15 bytes) or "UD" (LOCK).
 * A HEX that ends before the instruction does is an error: on the command line a usage error; on stdin a
 * `{"error": …}` line, and the exit status is 1 at the end.
 */
import { createInterface } from "node:readline";
import { parseHexBytes } from "../core/bits.js";
import { ArrayByteSource, DecodeStatus, DecodedInstruction, OP_NAMES, Op, decodeInstruction } from "../x86/decoder.js";
import type { CpuMode } from "../x86/cpu-mode.js";
import { usage } from "./errors.js";

/** The JSON shape `vmport decode` prints. */
export interface DecodeJson {
  /** Mnemonic (`in`, `out`, `ins`, `outs`, `rdpmc`), or null when the bytes are not one of those. */
  op: string | null;
  /** Access size in bytes (1, 2 or 4), or null. */
  size: number | null;
  /** Instruction length in bytes (1–15), or null. */
  length: number | null;
  /** Whether a REP prefix applies (string instructions). */
  rep: boolean;
  /** `"dx"` for a port in DX, the immediate port (0–255), or null. */
  port: "dx" | number | null;
  /** The fault the decoder raises (`GP` over 15 bytes, `UD` for LOCK), or null. */
  fault: "GP" | "UD" | null;
}

/** Decode `bytes` in `mode`; returns the JSON object or an error string for truncated input. */
export function decodeToJson(bytes: Uint8Array, mode: CpuMode): DecodeJson | string {
  const insn = new DecodedInstruction();
  const st = decodeInstruction(new ArrayByteSource(bytes), mode, insn);
  if (st === DecodeStatus.TRUNCATED) return `input ends at byte ${insn.missingAt}, before the instruction does`;
  const known = st === DecodeStatus.OK || st === DecodeStatus.LOCK;
  return {
    op: known ? OP_NAMES[insn.op]! : null,
    size: known && insn.op !== Op.RDPMC ? insn.size : null,
    length: known ? insn.length : null,
    rep: known && insn.rep,
    port: known && insn.op !== Op.RDPMC ? (insn.portImm >= 0 ? insn.portImm : "dx") : null,
    fault: st === DecodeStatus.TOO_LONG ? "GP" : st === DecodeStatus.LOCK ? "UD" : null,
  };
}

/** Run `vmport decode`. Returns the exit status. */
export async function runDecode(mode: CpuMode, hex: string): Promise<number> {
  if (hex !== "-") {
    const bytes = parseHexBytes(hex);
    if (bytes === null) usage(`HEX "${hex}" is not a string of hex byte pairs (like "66 ed" or "66ed")`);
    const out = decodeToJson(bytes, mode);
    if (typeof out === "string") usage(out);
    process.stdout.write(JSON.stringify(out) + "\n");
    return 0;
  }
  let status = 0;
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (line.trim() === "") continue;
    const bytes = parseHexBytes(line);
    const out = bytes === null ? `"${line}" is not a string of hex byte pairs` : decodeToJson(bytes, mode);
    if (typeof out === "string") {
      status = 1;
      process.stdout.write(JSON.stringify({ error: out }) + "\n");
    } else process.stdout.write(JSON.stringify(out) + "\n");
  }
  return status;
}
