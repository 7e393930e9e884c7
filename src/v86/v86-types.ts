/**
 * The parts of v86's internals the embedding uses (v86 0.5.x; not part of v86's public types).
 *
 * Emulates: nothing; types only.
 * Source of truth: v86 `v86/src/io.js` (`register_read`, `register_write`), `v86/src/cpu.js` (`reg32`, `wasm_memory`),
 * `v86/src/browser/starter.js` (`add_listener`); `docs/architecture.md` "The v86 path".
 * Does not: describe anything of v86 that `src/v86/` does not touch.
 */

/** v86's I/O bus registration API: one callback per access width; registering a port again replaces its handler. */
export interface V86Io {
  /** Serve IN on `port` with a callback per width (1, 2, 4 bytes); a missing one reads all-ones. */
  register_read(port: number, device: object, r8?: () => number, r16?: () => number, r32?: () => number): void;
  /** Serve OUT on `port` with a callback per width (1, 2, 4 bytes); a missing one drops the value. */
  register_write(port: number, device: object, w8?: (v: number) => void, w16?: (v: number) => void, w32?: (v: number) => void): void;
}

/** v86's CPU object, as far as the embedding reads it. */
export interface V86Cpu {
  /** The I/O bus. */
  io: V86Io;
  /** EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI (a Proxy that builds a new array on every element access). */
  reg32: Int32Array;
  /** The wasm memory `reg32` lives in (at byte offset 64 in v86 0.5.x), when v86 exposes it. */
  wasm_memory?: { buffer: ArrayBuffer };
}

/** The parts of a v86 `V86` emulator object the embedding uses. */
export interface V86Internals {
  /** The emulator core. */
  v86: { cpu: V86Cpu };
  /** Subscribe to an emulator event (`mouse-absolute`, `mouse-click`, `mouse-wheel`, …). */
  add_listener?(event: string, fn: (arg: never) => void): void;
}
