/**
 * Finding `cpuid` instructions (0F A2) in the executable sections of files a traced program maps, safely: the
 * program names the files (by mapping them), so it may name anything.
 *
 * Emulates: nothing; it prepares CPUID virtualisation for hosts without CPUID faulting (`docs/tracer.md`): every
 * `cpuid` in the program's private executable file mappings is later patched to `ud2` (same length) and emulated
 * on SIGILL. A raw search for the bytes 0F A2 is wrong (half of the pairs in a large binary sit inside other
 * instructions), so each executable ELF section is disassembled linearly with iced-x86 (loaded on the first cache
 * miss only).
 * Safety, since the program controls what is mapped:
 * - a file is opened with O_NONBLOCK (a FIFO or a device put in place of a mapped path cannot block the tracer)
 *   and must be a regular file (`fstat`); anything else is skipped and counted;
 * - only the ELF header, the section header table (at most {@link MAX_SECTION_TABLE_BYTES}) and executable
 *   sections that overlap the mapped range are read, each at most {@link MAX_SECTION_BYTES}, one at a time;
 * - results are cached per file identity (device, inode, size, mtime): in memory (at most
 *   {@link MEMORY_CACHE_FILES} files) and on disk under `$XDG_CACHE_HOME/vmport/cpuid`.
 * Does not: handle code that is not in an executable section (JIT code, packed binaries).
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, constants as FS, type Stats } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { cacheRoot } from "../cache-dir.js";
import { writeFileAtomic } from "../state-file.js";
import { escapeText } from "../../core/text.js";

const SHF_EXECINSTR = 0x4;
const SHT_NOBITS = 8;
/** Largest executable section scanned (Node's own .text is 28 MB). Larger ones are skipped and counted. */
export const MAX_SECTION_BYTES = 256 * 1024 * 1024;
/** Largest section header table read (16 384 ELF-64 entries). */
export const MAX_SECTION_TABLE_BYTES = 1024 * 1024;
/** Files whose site lists are kept in memory. */
export const MEMORY_CACHE_FILES = 512;

/** What the scanner skipped, for `--verbose` and tests. */
export interface ScanCounters {
  /** Mapped files that were not regular files (FIFOs, devices, sockets, directories). */
  notRegular: number;
  /** Mapped paths that could not be opened, or now name another file than the one mapped. */
  unreadable: number;
  /** Executable sections larger than {@link MAX_SECTION_BYTES}, or with a header table too large. */
  tooLarge: number;
  /** Executable sections disassembled (cache misses). */
  scanned: number;
}

/** The cache directory for site lists. */
export function cacheDir(): string {
  return join(cacheRoot(), "cpuid");
}

/** An executable section: file offset and size. */
export interface Section {
  /** File offset of the section's first byte. */
  offset: number;
  /** Size of the section in bytes. */
  size: number;
}

/**
 * Executable sections listed in an ELF header and section table, read through `pread`.
 * @returns bitness and sections, or null when the file is not an ELF file this scanner understands
 */
export function readSections(
  pread: (pos: number, len: number) => Uint8Array,
  fileSize: number,
  counters?: ScanCounters,
): { bits: 32 | 64; sections: Section[] } | null {
  const h = pread(0, 64);
  if (h.length < 52 || h[0] !== 0x7f || h[1] !== 0x45 || h[2] !== 0x4c || h[3] !== 0x46) return null;
  const is64 = h[4] === 2;
  if (is64 && h.length < 64) return null;
  const dv = new DataView(h.buffer, h.byteOffset, h.byteLength);
  const shoff = is64 ? Number(dv.getBigUint64(0x28, true)) : dv.getUint32(0x20, true);
  const shentsize = dv.getUint16(is64 ? 0x3a : 0x2e, true);
  const shnum = dv.getUint16(is64 ? 0x3c : 0x30, true);
  if (shentsize < (is64 ? 64 : 40) || shnum === 0) return null;
  const tableBytes = shentsize * shnum;
  if (tableBytes > MAX_SECTION_TABLE_BYTES) {
    if (counters) counters.tooLarge++;
    return null;
  }
  if (shoff + tableBytes > fileSize) return null;
  const t = pread(shoff, tableBytes);
  if (t.length < tableBytes) return null;
  const tv = new DataView(t.buffer, t.byteOffset, t.byteLength);
  const out: Section[] = [];
  for (let i = 0; i < shnum; i++) {
    const o = i * shentsize;
    const type = tv.getUint32(o + 4, true);
    const flags = is64 ? Number(tv.getBigUint64(o + 8, true)) : tv.getUint32(o + 8, true);
    const off = is64 ? Number(tv.getBigUint64(o + 0x18, true)) : tv.getUint32(o + 0x10, true);
    const size = is64 ? Number(tv.getBigUint64(o + 0x20, true)) : tv.getUint32(o + 0x14, true);
    if (type !== SHT_NOBITS && flags & SHF_EXECINSTR && size > 0 && off + size <= fileSize) out.push({ offset: off, size });
  }
  return { bits: is64 ? 64 : 32, sections: out };
}

type Iced = typeof import("iced-x86");
let iced: Iced | null = null;
/** iced-x86, loaded on first use (it costs ≈ 0.14 s to load, and a warm cache never needs it). */
function decoderLib(): Iced {
  iced ??= createRequire(import.meta.url)("iced-x86") as Iced;
  return iced;
}

/**
 * Linear sweep of `code` (file bytes starting at file offset `base`): the file offsets of every `cpuid` among the
 * instructions that start before `limit` (an index into `code`), and the index where the next instruction starts.
 */
export function sweep(code: Uint8Array, bits: 32 | 64, base: number, limit = code.length): { sites: number[]; next: number } {
  const x = decoderLib();
  const sites: number[] = [];
  const insn = new x.Instruction();
  const decoder = new x.Decoder(bits, code, x.DecoderOptions.None);
  let pos = 0;
  while (decoder.canDecode) {
    pos = decoder.position;
    if (pos >= limit) break;
    decoder.decodeOut(insn);
    if (insn.code === x.Code.Cpuid) sites.push(base + pos);
  }
  if (!decoder.canDecode) pos = code.length;
  decoder.free();
  insn.free();
  return { sites, next: pos };
}

/** Bytes decoded per window: memory for a scan stays at this (plus 15), whatever the section size. */
export const SCAN_WINDOW_BYTES = 8 * 1024 * 1024;

/**
 * Sweep a section through windows of {@link SCAN_WINDOW_BYTES}: each window decodes instructions that start in
 * it, reading up to 15 bytes past its end, so the result equals one sweep of the whole section.
 */
export function sweepSection(
  pread: (pos: number, len: number) => Uint8Array,
  bits: 32 | 64,
  offset: number,
  size: number,
  progress?: (fraction: number) => void,
  window = SCAN_WINDOW_BYTES,
): number[] {
  const out: number[] = [];
  const end = offset + size;
  for (let pos = offset; pos < end; ) {
    const last = pos + window >= end;
    const code = pread(pos, Math.min(window + 15, end - pos));
    const r = sweep(code, bits, pos, last ? code.length : window);
    for (const s of r.sites) out.push(s);
    if (r.next === 0) break; // nothing decodable (cannot happen with a non-empty window)
    pos += r.next;
    progress?.((pos - offset) / size);
  }
  return out;
}

/** An open file a program mapped, with its identity. */
export interface MappedFile {
  /** A descriptor open on the file (the caller closes it). */
  fd: number;
  /** `fstat` of that descriptor: device, inode, size and mtime identify the file's contents. */
  stat: Stats;
  /** Name for progress messages (guest-controlled: escape before printing). */
  name: string;
}

/**
 * Open a file the program mapped, without following it into anything but a regular file.
 * @param paths - candidates in order (e.g. `/proc/PID/map_files/…`, then the path from the maps line)
 * @param inode - when not null, the inode the mapping really has (a path may since name another file)
 */
export function openMapped(paths: string[], inode: number | null, counters: ScanCounters): MappedFile | null {
  for (const p of paths) {
    let fd: number;
    try {
      fd = openSync(p, FS.O_RDONLY | FS.O_NONBLOCK | FS.O_NOCTTY);
    } catch {
      continue;
    }
    let st: Stats;
    try {
      st = fstatSync(fd);
    } catch {
      closeSync(fd);
      continue;
    }
    if (!st.isFile()) {
      closeSync(fd);
      counters.notRegular++;
      return null;
    }
    if (inode !== null && st.ino !== inode) {
      closeSync(fd);
      continue; // the path now names another file than the one mapped
    }
    return { fd, stat: st, name: paths[paths.length - 1]! };
  }
  counters.unreadable++;
  return null;
}

/** What identifies a file's contents for the site cache: device, inode, size and modification time. */
export interface FileIdentity {
  /** Device number. */
  dev: number;
  /** Inode number. */
  ino: number;
  /** Size in bytes. */
  size: number;
  /** Modification time in ms (as `fs.Stats.mtimeMs`). */
  mtimeMs: number;
}

/** The cache key of a file identity (also the name of its entry on disk). */
export function identityKey(id: FileIdentity): string {
  return `${id.dev}-${id.ino}-${id.size}-${Math.round(id.mtimeMs)}-v2`;
}

/** Site lists per file identity, in memory (LRU) and on disk. */
export class CpuidSiteCache {
  /** Files skipped (not regular, unreadable, too large) and scanned. */
  readonly counters: ScanCounters = { notRegular: 0, unreadable: 0, tooLarge: 0, scanned: 0 };
  private readonly memory = new Map<string, Map<string, number[]>>();

  constructor(
    private readonly dir: string | null = cacheDir(),
    private readonly progress: (msg: string) => void = (m) => process.stderr.write(m + "\n"),
  ) {}

  private fileEntry(key: string): Map<string, number[]> {
    let e = this.memory.get(key);
    if (e !== undefined) {
      this.memory.delete(key); // refresh LRU position
      this.memory.set(key, e);
      return e;
    }
    e = new Map();
    if (this.dir !== null) {
      const f = join(this.dir, key + ".json");
      if (existsSync(f)) {
        try {
          const c = JSON.parse(readFileSync(f, "utf8")) as { version?: unknown; sections?: unknown };
          if (c.version === 2 && typeof c.sections === "object" && c.sections !== null) {
            for (const [k, v] of Object.entries(c.sections as Record<string, unknown>)) {
              if (Array.isArray(v) && v.every((x) => Number.isSafeInteger(x))) e.set(k, v as number[]);
            }
          }
        } catch {
          // a damaged cache entry is rebuilt
        }
      }
    }
    this.memory.set(key, e);
    if (this.memory.size > MEMORY_CACHE_FILES) this.memory.delete(this.memory.keys().next().value!);
    return e;
  }

  private persist(key: string, e: Map<string, number[]>, name: string): void {
    if (this.dir === null) return;
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      writeFileAtomic(join(this.dir, key + ".json"), JSON.stringify({ version: 2, path: name, sections: Object.fromEntries(e) }));
    } catch {
      // no cache: scan again next time
    }
  }

  /**
   * {@link sitesInRange} from the cache alone, for a file known by its identity (no descriptor): null when the
   * file's section table or a section overlapping the range has not been scanned yet (the caller opens the file).
   */
  cachedSitesInRange(id: FileIdentity, offset: number, length: number): number[] | null {
    const entry = this.fileEntry(identityKey(id));
    const layout = entry.get("layout");
    if (layout === undefined) return null;
    const out: number[] = [];
    for (let i = 1; i + 1 < layout.length; i += 2) {
      const so = layout[i]!;
      const size = layout[i + 1]!;
      if (so + size <= offset || so >= offset + length) continue;
      const sites = entry.get(`${so}:${size}`);
      if (sites === undefined) {
        if (size > MAX_SECTION_BYTES) continue; // never scanned: too large (counted when it was met)
        return null;
      }
      for (const s of sites) if (s >= offset && s < offset + length) out.push(s);
    }
    return out;
  }

  /**
   * File offsets of the `cpuid`s in `file`'s executable sections that overlap the file range
   * [`offset`, `offset + length`) (a mapping), each offset inside that range.
   */
  sitesInRange(file: MappedFile, offset: number, length: number): number[] {
    const st = file.stat;
    const key = identityKey(st);
    const entry = this.fileEntry(key);
    const pread = (pos: number, len: number) => {
      const b = Buffer.alloc(Math.max(0, Math.min(len, st.size - pos)));
      let n = 0;
      while (n < b.length) {
        const r = readSync(file.fd, b, n, b.length - n, pos + n);
        if (r === 0) break;
        n += r;
      }
      return b.subarray(0, n);
    };
    let changed = false;
    let layout = entry.get("layout");
    if (layout === undefined) {
      const elf = readSections(pread, st.size, this.counters);
      layout = elf === null ? [] : [elf.bits, ...elf.sections.flatMap((s) => [s.offset, s.size])];
      entry.set("layout", layout);
      changed = true;
    }
    const bits = layout[0] === 32 ? 32 : 64;
    const out: number[] = [];
    for (let i = 1; i + 1 < layout.length; i += 2) {
      const so = layout[i]!;
      const size = layout[i + 1]!;
      if (so + size <= offset || so >= offset + length) continue; // not in this mapping
      const sk = `${so}:${size}`;
      let sites = entry.get(sk);
      if (sites === undefined) {
        if (size > MAX_SECTION_BYTES) {
          this.counters.tooLarge++;
          continue;
        }
        const t0 = Date.now();
        let reported = false;
        sites = sweepSection(pread, bits, so, size, (f) => {
          if (Date.now() - t0 > 1000) {
            reported = true;
            this.progress(
              `vmport: first scan of ${escapeText(file.name)} for cpuid: ${Math.round(f * 100)}% of ${(size / 1e6).toFixed(1)} MB`,
            );
          }
        });
        if (reported)
          this.progress(`vmport: scanned ${escapeText(file.name)} in ${((Date.now() - t0) / 1000).toFixed(1)} s (cached for next time)`);
        this.counters.scanned++;
        entry.set(sk, sites);
        changed = true;
      }
      for (const s of sites) if (s >= offset && s < offset + length) out.push(s);
    }
    if (changed) this.persist(key, entry, file.name);
    return out;
  }
}

/** An executable file mapping from /proc/PID/maps. */
export interface ExecMapping {
  /** First address of the mapping. */
  start: number;
  /** Address just past the mapping. */
  end: number;
  /** File offset the mapping starts at. */
  offset: number;
  /** MAP_SHARED (`s`) rather than private (`p`): never patched (a write would reach the file). */
  shared: boolean;
  /** Inode of the mapped file (0 for anonymous memory). */
  inode: number;
  /** Path of the mapped file as the kernel shows it (guest-controlled: escape before printing). */
  path: string;
}

/** Executable file mappings of a process (one read of /proc/PID/maps). */
export function execMappings(pid: number): ExecMapping[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/maps`, "utf8");
  } catch {
    return [];
  }
  const out: ExecMapping[] = [];
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) \S+ (\d+)\s+(\/.*)$/.exec(line);
    if (!m || m[3]![2] !== "x" || m[5] === "0") continue;
    out.push({
      start: parseInt(m[1]!, 16),
      end: parseInt(m[2]!, 16),
      offset: parseInt(m[4]!, 16),
      shared: m[3]![3] === "s",
      inode: Number(m[5]),
      path: m[6]!.replace(/ \(deleted\)$/, ""),
    });
  }
  return out;
}
