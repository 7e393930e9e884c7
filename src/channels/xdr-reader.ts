/**
 * A bounds-checked XDR (RFC 4506) reader for guest-supplied data.
 *
 * Emulates: nothing; decodes what open-vm-tools encodes with rpcgen (`lib/guestRpc/*.x`).
 * Source of truth: RFC 4506 §4 (big-endian 4-byte units; strings and opaques are a length, the bytes, zero
 * padding to 4; optional data `*` is a boolean then the value).
 * Does not: throw on malformed input: every read past the end, or of a length above its declared maximum, sets
 * {@link XdrReader.failed} and returns a harmless value, so a decoder checks `failed` once at the end.
 */

/** Reader over one buffer. */
export class XdrReader {
  private pos = 0;
  /** True once any read failed. */
  failed = false;
  private readonly dv: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** An unsigned 32-bit integer. */
  u32(): number {
    if (this.failed || this.pos + 4 > this.buf.length) {
      this.failed = true;
      return 0;
    }
    const v = this.dv.getUint32(this.pos, false);
    this.pos += 4;
    return v;
  }

  /** A signed 32-bit integer. */
  i32(): number {
    return this.u32() | 0;
  }

  /** A boolean (any non-zero is true). */
  bool(): boolean {
    return this.u32() !== 0;
  }

  /** Variable-length opaque of at most `max` bytes (a view, not a copy). */
  opaque(max: number): Uint8Array {
    const n = this.u32();
    if (this.failed || n > max || this.pos + n > this.buf.length) {
      this.failed = true;
      return new Uint8Array(0);
    }
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += (n + 3) & ~3;
    if (this.pos > this.buf.length) this.failed = true;
    return v;
  }

  /** A string of at most `max` bytes, decoded as Latin-1 (the .x strings are ASCII). */
  string(max: number): string {
    return latin1(this.opaque(max));
  }

  /** Optional data: the flag, then `read()` if set. */
  optional<T>(read: () => T): T | null {
    return this.bool() ? read() : null;
  }

  /** A counted array of at most `max` elements. */
  array<T>(max: number, read: () => T): T[] {
    const n = this.u32();
    if (this.failed || n > max) {
      this.failed = true;
      return [];
    }
    const out: T[] = [];
    for (let i = 0; i < n && !this.failed; i++) out.push(read());
    return out;
  }

  /** A fixed array of `n` XDR chars (rpcgen's `char x[N]`: each char a 4-byte integer), as a NUL-trimmed string. */
  charVector(n: number): string {
    let s = "";
    let ended = false;
    for (let i = 0; i < n; i++) {
      const c = this.u32() & 0xff;
      if (c === 0) ended = true;
      else if (!ended) s += String.fromCharCode(c);
    }
    return s;
  }
}

/** Bytes as Latin-1 text (one char per byte), stopping at the first NUL. */
export function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length && b[i] !== 0; i++) s += String.fromCharCode(b[i]!);
  return s;
}
