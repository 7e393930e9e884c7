/**
 * Finding `cpuid` instructions (0F A2) in executable files, with an on-disk cache.
 *
 * Emulates: nothing; it prepares CPUID virtualisation for hosts without CPUID faulting (`real-clients.md` §9): every
 * `cpuid` in the program's executable mappings is later patched to `ud2` (same length) and emulated on SIGILL.
 * A raw search for the bytes 0F A2 is wrong (half of the pairs in a large binary sit inside other instructions,
 * `tracer-notes.md` §4.6), so each executable ELF section is disassembled linearly with iced-x86.
 * The result is cached per file under `$XDG_CACHE_HOME/vmport/cpuid` (default `~/.cache/vmport/cpuid`), keyed by
 * device, inode, size and mtime; a first scan that takes over a second reports progress on stderr.
 * Does not: handle code that is not in an executable section (JIT code, packed binaries).
 */
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import * as iced from "iced-x86";
import { writeFileAtomic } from "../state-file.js";

const SHF_EXECINSTR = 0x4;
const SHT_NOBITS = 8;

/** The cache directory. */
export function cacheDir(): string {
  return join(process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache"), "vmport", "cpuid");
}

/** Executable sections of an ELF file: [file offset, size, virtual address]; and its bitness. */
export function executableSections(file: Uint8Array): { bits: 32 | 64; sections: [number, number, number][] } | null {
  if (file.length < 52 || file[0] !== 0x7f || file[1] !== 0x45 || file[2] !== 0x4c || file[3] !== 0x46) return null;
  const is64 = file[4] === 2;
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const shoff = is64 ? Number(dv.getBigUint64(0x28, true)) : dv.getUint32(0x20, true);
  const shentsize = dv.getUint16(is64 ? 0x3a : 0x2e, true);
  const shnum = dv.getUint16(is64 ? 0x3c : 0x30, true);
  const out: [number, number, number][] = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    if (o + shentsize > file.length) return null;
    const type = dv.getUint32(o + 4, true);
    const flags = is64 ? Number(dv.getBigUint64(o + 8, true)) : dv.getUint32(o + 8, true);
    const addr = is64 ? Number(dv.getBigUint64(o + 0x10, true)) : dv.getUint32(o + 0x0c, true);
    const off = is64 ? Number(dv.getBigUint64(o + 0x18, true)) : dv.getUint32(o + 0x10, true);
    const size = is64 ? Number(dv.getBigUint64(o + 0x20, true)) : dv.getUint32(o + 0x14, true);
    if (type !== SHT_NOBITS && flags & SHF_EXECINSTR && off + size <= file.length) out.push([off, size, addr]);
  }
  return { bits: is64 ? 64 : 32, sections: out };
}

/** File offsets of every `cpuid` instruction found by a linear sweep of the executable sections. */
export function scanFile(path: string, file: Uint8Array, progress: (msg: string) => void): number[] {
  const elf = executableSections(file);
  if (elf === null) return [];
  const total = elf.sections.reduce((n, s) => n + s[1], 0);
  const t0 = Date.now();
  let done = 0;
  let reported = false;
  const offsets: number[] = [];
  const insn = new iced.Instruction();
  for (const [off, size, addr] of elf.sections) {
    const decoder = new iced.Decoder(elf.bits, file.subarray(off, off + size), iced.DecoderOptions.None);
    let count = 0;
    while (decoder.canDecode) {
      const pos = decoder.position;
      decoder.decodeOut(insn);
      if (insn.code === iced.Code.Cpuid) offsets.push(off + pos);
      if (++count % 200_000 === 0 && Date.now() - t0 > 1000) {
        reported = true;
        progress(`vmport: first scan of ${path} for cpuid: ${Math.round(((done + pos) / total) * 100)}% of ${(total / 1e6).toFixed(1)} MB`);
      }
    }
    decoder.free();
    done += size;
  }
  insn.free();
  if (reported) progress(`vmport: scanned ${path} in ${((Date.now() - t0) / 1000).toFixed(1)} s (cached for next time)`);
  return offsets;
}

/** Cached `scanFile`: returns the file offsets of `cpuid` in `path`. */
export function cpuidSites(path: string, progress: (msg: string) => void = (m) => process.stderr.write(m + "\n")): number[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    return [];
  }
  const key = `${st.dev}-${st.ino}-${st.size}-${Math.round(st.mtimeMs)}`;
  const dir = cacheDir();
  const cacheFile = join(dir, key + ".json");
  if (existsSync(cacheFile)) {
    try {
      const c = JSON.parse(readFileSync(cacheFile, "utf8")) as { path: string; offsets: number[] };
      if (Array.isArray(c.offsets)) return c.offsets;
    } catch {
      // a damaged cache entry is rebuilt
    }
  }
  let file: Uint8Array;
  try {
    file = readFileSync(path);
  } catch {
    return [];
  }
  const offsets = scanFile(path, file, progress);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(cacheFile, JSON.stringify({ path, offsets }));
  } catch {
    // no cache: scan again next time
  }
  return offsets;
}

/** An executable file mapping from /proc/PID/maps. */
export interface ExecMapping {
  start: number;
  end: number;
  offset: number;
  path: string;
}

/** r-x file mappings of a process. */
export function execMappings(pid: number): ExecMapping[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/maps`, "utf8");
  } catch {
    return [];
  }
  const out: ExecMapping[] = [];
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) \S+ \d+\s+(\/.*)$/.exec(line);
    if (!m || m[3]![2] !== "x") continue;
    out.push({ start: parseInt(m[1]!, 16), end: parseInt(m[2]!, 16), offset: parseInt(m[4]!, 16), path: m[5]!.replace(/ \(deleted\)$/, "") });
  }
  return out;
}
