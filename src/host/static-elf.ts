/**
 * Tiny static x86-64 executables written by vmport itself: one PT_LOAD segment (read + execute) holding the code
 * and its read-only data, no libc, no dynamic loader. Used for the tracer's start-up trampoline and for the
 * state-file link helper; they are written once to the cache directory under a name carrying a hash of the image.
 *
 * Emulates: nothing. Source of truth: the ELF-64 object file format (e_ident, ET_EXEC, PT_LOAD), Linux
 * `fs/binfmt_elf.c` (a static ET_EXEC with one segment needs nothing else).
 * Does not: build anything but x86-64 Linux images.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { le32Bytes } from "../core/bytes.js";
import { cacheRoot } from "./cache-dir.js";
import { writeFileAtomic } from "./state-file.js";

/** Virtual address of the image. */
export const IMAGE_BASE = 0x400000;
const EHDR = 64;
const PHDR = 56;
/** Address of the first code byte (right after the headers). */
export const CODE_ADDRESS = IMAGE_BASE + EHDR + PHDR;

/** Little-endian bytes of a 32-bit immediate. */
export function imm32(v: number): number[] {
  return le32Bytes(v);
}

/**
 * An ELF image: headers, then `code(dataAddress)`, then `data` at an 8-byte aligned address.
 * @param code - machine code, given the address its data will have (the code's length must not depend on it)
 * @param data - read-only data after the code
 * @returns the image and the file offset of the data
 */
export function staticImage(code: (dataAddress: number) => number[], data: Uint8Array): { image: Uint8Array; dataOffset: number } {
  const codeLen = code(0).length;
  const dataOffset = (EHDR + PHDR + codeLen + 7) & ~7;
  const size = dataOffset + data.length;
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]); // ELF, 64-bit, little-endian, version 1, SysV
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, 0x3e, true); // x86-64
  dv.setUint32(20, 1, true);
  dv.setBigUint64(24, BigInt(CODE_ADDRESS), true); // e_entry
  dv.setBigUint64(32, BigInt(EHDR), true); // e_phoff
  dv.setUint16(52, EHDR, true); // e_ehsize
  dv.setUint16(54, PHDR, true); // e_phentsize
  dv.setUint16(56, 1, true); // e_phnum
  const p = EHDR;
  dv.setUint32(p, 1, true); // PT_LOAD
  dv.setUint32(p + 4, 5, true); // R + X
  dv.setBigUint64(p + 16, BigInt(IMAGE_BASE), true); // p_vaddr
  dv.setBigUint64(p + 24, BigInt(IMAGE_BASE), true); // p_paddr
  dv.setBigUint64(p + 32, BigInt(size), true); // p_filesz
  dv.setBigUint64(p + 40, BigInt(size), true); // p_memsz
  dv.setBigUint64(p + 48, 0x1000n, true); // p_align
  const bytes = code(IMAGE_BASE + dataOffset);
  if (bytes.length !== codeLen) throw new Error("static image: code length depends on the data address");
  b.set(bytes, EHDR + PHDR);
  b.set(data, dataOffset);
  return { image: b, dataOffset };
}

/** Path of `image` in the cache directory as `NAME-HASH`, written (mode 0755) on first use. */
export function installImage(name: string, image: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const x of image) h = Math.imul(h ^ x, 0x01000193) >>> 0;
  const dir = cacheRoot();
  const path = join(dir, `${name}-${h.toString(16).padStart(8, "0")}`);
  if (!existsSync(path) || statSync(path).size !== image.length || !Buffer.from(readFileSync(path)).equals(Buffer.from(image))) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(path, image, { mode: 0o755 });
  }
  chmodSync(path, 0o755);
  return path;
}
