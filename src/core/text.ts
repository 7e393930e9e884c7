/**
 * Text ↔ bytes for the engine (RPCI commands and replies are bytes; most are ASCII or UTF-8 text).
 *
 * Does not: import Node. `TextEncoder`/`TextDecoder` are WHATWG globals present in Node and browsers; they are
 * declared here because the engine compiles without DOM or Node types.
 */

declare const TextEncoder: { new (): { encode(s: string): Uint8Array } };
declare const TextDecoder: { new (label?: string, opts?: { fatal?: boolean }): { decode(b: Uint8Array): string } };

const encoder = new TextEncoder();
const lossy = new TextDecoder("utf-8");
const strict = new TextDecoder("utf-8", { fatal: true });

/** UTF-8 bytes of `s`. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** `b` as UTF-8 text; invalid sequences become U+FFFD. */
export function fromUtf8(b: Uint8Array): string {
  return lossy.decode(b);
}

/** `b` as UTF-8 text, or null if it is not valid UTF-8. */
export function fromUtf8Strict(b: Uint8Array): string | null {
  try {
    return strict.decode(b);
  } catch {
    return null;
  }
}

/** Concatenate byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Standard base64 of `b` (no line breaks). */
export function toBase64(b: Uint8Array): string {
  const A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  let s = "";
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    s += A[(n >>> 18) & 63]! + A[(n >>> 12) & 63]!;
    s += i + 1 < b.length ? A[(n >>> 6) & 63]! : "=";
    s += i + 2 < b.length ? A[n & 63]! : "=";
  }
  return s;
}

/** Bytes of standard base64 `s`, or null if malformed. */
export function fromBase64(s: string): Uint8Array | null {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
  const A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const pad = s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const n =
      (A.indexOf(s[i]!) << 18) |
      (A.indexOf(s[i + 1]!) << 12) |
      ((s[i + 2] === "=" ? 0 : A.indexOf(s[i + 2]!)) << 6) |
      (s[i + 3] === "=" ? 0 : A.indexOf(s[i + 3]!));
    if (o < out.length) out[o++] = (n >>> 16) & 0xff;
    if (o < out.length) out[o++] = (n >>> 8) & 0xff;
    if (o < out.length) out[o++] = n & 0xff;
  }
  return out;
}

/**
 * Guest-supplied text made safe to print on a terminal, on one line: control characters (C0, DEL, C1), the
 * Unicode line/paragraph separators and bidirectional overrides are shown as `\xNN` or `\u{NNNN}`, and a
 * backslash as `\\`, so nothing a guest sends can move the cursor, change the title, clear the screen, start a
 * new (forged) line or reorder what follows. Everything else prints as itself.
 */
export function escapeText(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\\\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (c === "\\") return "\\\\";
    const n = c.charCodeAt(0);
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, "0")}` : `\\u{${n.toString(16)}}`;
  });
}

/** Guest-supplied bytes as printable one-line text: lossy UTF-8, then {@link escapeText}. */
export function escapeBytes(b: Uint8Array): string {
  return escapeText(fromUtf8(b));
}
