/**
 * CPUID virtualisation for traced programs on hosts without CPUID faulting: every `cpuid` in a program's private
 * executable file mappings is patched to `ud2` (same length), and the SIGILL it then raises is emulated with what a
 * VMware host reports (`cpuid.ts`).
 *
 * Emulates: the hypervisor's CPUID intercept. Source of truth: `docs/tracer.md` (why patching, measured counts).
 * When the sites are patched:
 * - at exec, a breakpoint at the program's entry point (AT_ENTRY) waits until the dynamic loader has mapped every
 *   DT_NEEDED library; then one read of /proc/PID/maps lists the executable file mappings, each patched;
 * - later mappings (dlopen) stop at a seccomp event (an `mmap` of a file with PROT_EXEC). The file is read through
 *   the descriptor being mapped (`/proc/PID/fd/N`); when the mapped range holds no `cpuid` the call simply goes on
 *   (one stop), otherwise it is let through to its exit, where its address is known, and patched there. Nothing
 *   re-reads /proc/PID/maps per mapping: the cost is linear in the number of mappings.
 * Never written: MAP_SHARED mappings (a write would reach the file on disk; they are counted in `sharedSkipped` and
 * left unpatched: CPUID there shows the real host); bytes that are not `0F A2` when patched.
 * Bounds: at most {@link MAX_SITES_PER_PROCESS} patched sites per process (more are counted, not patched); site
 * lists are shared copy-on-write between a parent and its forked children and dropped when a process exits.
 * Does not: patch code that is not in a file mapping (JIT code); follow `mprotect(PROT_EXEC)` of a mapping made
 * without PROT_EXEC; notice a mapping replaced by another thread between the syscall's exit and the patch (the
 * bytes are checked, and only private mappings are written, so the program can only hurt itself).
 */
import { Reg } from "../../x86/registers.js";
import { CpuState } from "../../x86/cpu-state.js";
import type { VmProfile } from "../../devices/profile.js";
import { PTRACE, UREG, type Libc } from "../ptrace/libc.js";
import { PtraceMemory } from "./ptrace-memory.js";
import { CpuidSiteCache, execMappings, openMapped, type ScanCounters } from "./cpuid-sites.js";
import { TraceeRegs } from "./user-regs.js";
import { vmwareCpuid } from "./cpuid.js";
import { closeSync, openSync, readFileSync, readSync } from "node:fs";

/** Patched `cpuid` sites one process may have. */
export const MAX_SITES_PER_PROCESS = 65_536;
const MAP_TYPE = 0x0f;
const MAP_PRIVATE = 0x02;
const PAGE = 4096;

/** Counters of the patcher. */
export interface PatcherCounters {
  /** `cpuid` sites patched to `ud2`. */
  patched: number;
  /** CPUID instructions emulated. */
  cpuids: number;
  /** Executable mappings left unpatched because they are MAP_SHARED. */
  sharedSkipped: number;
  /** Sites not patched because the process already had {@link MAX_SITES_PER_PROCESS}. */
  sitesOverLimit: number;
  /** Executable-mmap stops handled. */
  execMmaps: number;
  /** Of those, answered from the site cache by the file's identity alone (one `stat`, the file not opened). */
  mmapsByIdentity: number;
}

/** Size of the x86-64 `struct stat` (`st_dev` at 0, `st_ino` 8, `st_mode` 24, `st_size` 48, `st_mtim` 88). */
const STAT_BYTES = 144;

/** A process's patched sites; shared with forked children until one of them changes it. */
class SiteSet {
  constructor(
    public set: Set<number> = new Set(),
    public shared = false,
  ) {}
}

/** What an executable-mmap stop found at the syscall's entry, kept for its exit. */
interface PendingMap {
  /** File offsets of the `cpuid`s in the mapped range. */
  sites: number[];
  /** File offset of the mapping. */
  offset: number;
}

/** The CPUID patcher of one tracer. */
export class CpuidPatcher {
  /** What the patcher did and skipped in this run. */
  readonly counters: PatcherCounters = { patched: 0, cpuids: 0, sharedSkipped: 0, sitesOverLimit: 0, execMmaps: 0, mmapsByIdentity: 0 };
  private readonly cache: CpuidSiteCache;
  private readonly regs: TraceeRegs;
  private readonly cpu = new CpuState();
  /** `struct stat` for {@link sitesByIdentity}. */
  private readonly statBuf = new Uint8Array(STAT_BYTES);
  private readonly mem: PtraceMemory;
  private readonly word = new Uint8Array(8);
  /** Patched sites per thread group. */
  private readonly sites = new Map<number, SiteSet>();
  /** Entry-point breakpoints waiting to be hit: tgid → address and the original 8 bytes there. */
  private readonly entryBreak = new Map<number, { addr: number; orig: Uint8Array }>();
  /** Thread → thread group. */
  private readonly tgids = new Map<number, number>();
  /** Threads let through an executable mmap to its exit. */
  private readonly pending = new Map<number, PendingMap>();

  constructor(
    private readonly c: Libc,
    private readonly profile: VmProfile,
    cache?: CpuidSiteCache,
  ) {
    this.mem = new PtraceMemory(c);
    this.cache = cache ?? new CpuidSiteCache();
    this.regs = new TraceeRegs(c);
  }

  /** What the site scanner skipped. */
  get scanCounters(): ScanCounters {
    return this.cache.counters;
  }

  /** Thread-group id of `tid` (cached; read from /proc once per thread). */
  tgidOf(tid: number): number {
    let g = this.tgids.get(tid);
    if (g === undefined) {
      g = procStatusField(tid, "Tgid") ?? tid;
      this.tgids.set(tid, g);
    }
    return g;
  }

  /** A fork/vfork/clone event: `child` is a new thread of `parent`'s group, or a new process sharing its text. */
  onNewTask(parentTid: number, child: number): void {
    const tg = procStatusField(child, "Tgid") ?? child;
    this.tgids.set(child, tg);
    if (tg !== child) return; // a thread: same group, same sites
    const from = this.sites.get(this.tgidOf(parentTid));
    if (from !== undefined && !this.sites.has(child)) {
      from.shared = true;
      this.sites.set(child, new SiteSet(from.set, true));
    }
  }

  /** A thread exited; when it is a group leader, its process is gone. */
  onExit(tid: number): void {
    const tg = this.tgids.get(tid);
    this.tgids.delete(tid);
    this.pending.delete(tid);
    if (tg === undefined || tg === tid) {
      this.sites.delete(tid);
      this.entryBreak.delete(tid);
    }
  }

  /** Patched sites of a thread group; a forked child whose fork event was not seen yet gets its parent's list. */
  private sitesOf(tgid: number): SiteSet {
    let s = this.sites.get(tgid);
    if (s === undefined) {
      const ppid = procStatusField(tgid, "PPid");
      const parent = ppid !== null ? this.sites.get(ppid) : undefined;
      if (parent !== undefined) parent.shared = true;
      s = parent !== undefined ? new SiteSet(parent.set, true) : new SiteSet();
      this.sites.set(tgid, s);
    }
    return s;
  }

  /** Add a site; a list still shared with a parent or child is copied first (each process has its own holder). */
  private addSite(s: SiteSet, addr: number): void {
    if (s.shared) {
      s.set = new Set(s.set);
      s.shared = false;
    }
    s.set.add(addr);
  }

  /** After an exec: forget old sites and stop at the entry point, where every needed library is mapped. */
  onExec(tid: number): void {
    this.tgids.set(tid, tid);
    this.sites.set(tid, new SiteSet());
    this.entryBreak.delete(tid);
    if (!this.profile.cpuid) return;
    const entry = auxvEntry(tid);
    if (entry === null || !this.peek(tid, entry)) return;
    const orig = this.word.slice();
    const patched = this.word.slice();
    patched[0] = 0xcc; // int3
    if (this.poke(tid, entry, patched)) this.entryBreak.set(tid, { addr: entry, orig });
  }

  /** SIGTRAP: the entry breakpoint of `tid`'s process? Then restore, rewind and patch everything mapped. */
  entryHit(tid: number): boolean {
    const tgid = this.tgidOf(tid);
    const bp = this.entryBreak.get(tgid);
    if (bp === undefined || !this.regs.fetch(tid)) return false;
    if (this.regs.u64(UREG.rip) !== bp.addr + 1) return false;
    this.entryBreak.delete(tgid);
    this.poke(tid, bp.addr, bp.orig);
    this.regs.setU64(UREG.rip, bp.addr);
    this.regs.writeBack(tid);
    this.patchMapped(tid, tgid);
    return true;
  }

  /** Patch every private executable file mapping of `tgid` (one read of its maps). */
  private patchMapped(tid: number, tgid: number): void {
    const set = this.sitesOf(tgid);
    for (const m of execMappings(tgid)) {
      if (m.shared) {
        this.counters.sharedSkipped++;
        continue;
      }
      const file = openMapped(
        [`/proc/${tgid}/map_files/${m.start.toString(16)}-${m.end.toString(16)}`, m.path],
        m.inode,
        this.cache.counters,
      );
      if (file === null) continue;
      try {
        const offs = this.cache.sitesInRange(file, m.offset, m.end - m.start);
        for (const off of offs) this.patchSite(tid, set, m.start + (off - m.offset));
      } finally {
        closeSync(file.fd);
      }
    }
  }

  private patchSite(tid: number, set: SiteSet, addr: number): void {
    if (set.set.has(addr) || !this.peek(tid, addr)) return;
    if (this.word[0] !== 0x0f || this.word[1] !== 0xa2) return; // not what the file said: leave it
    if (set.set.size >= MAX_SITES_PER_PROCESS) {
      this.counters.sitesOverLimit++;
      return;
    }
    const w = this.word.slice();
    w[1] = 0x0b; // 0F A2 cpuid → 0F 0B ud2
    if (this.poke(tid, addr, w)) {
      this.addSite(set, addr);
      this.counters.patched++;
    }
  }

  /**
   * A seccomp stop for an executable file mmap (at the syscall's entry).
   * @returns true when the mapped range holds `cpuid`s: resume with PTRACE_SYSCALL and call {@link mmapExit} at
   * the exit; false: resume with PTRACE_CONT (nothing to patch)
   */
  mmapEntry(tid: number): boolean {
    this.counters.execMmaps++;
    if (!this.regs.fetch(tid)) return false;
    const w = this.regs.words;
    const i386 = this.regs.i386();
    const length = this.regs.u64(i386 ? UREG.rcx : UREG.rsi);
    const flags = w[(i386 ? UREG.rsi : UREG.r10) * 2]!;
    const fd = w[(i386 ? UREG.rdi : UREG.r8) * 2]! | 0;
    const offset = i386 ? w[UREG.rbp * 2]! * PAGE : this.regs.u64(UREG.r9);
    if ((flags & MAP_TYPE) !== MAP_PRIVATE) {
      this.counters.sharedSkipped++;
      return false;
    }
    if (fd < 0) return false;
    const path = `/proc/${tid}/fd/${fd}`;
    let sites = this.sitesByIdentity(path, offset, length);
    if (sites === null) {
      const file = openMapped([path], null, this.cache.counters);
      if (file === null) return false;
      try {
        sites = this.cache.sitesInRange(file, offset, length);
      } finally {
        closeSync(file.fd);
      }
    }
    if (sites.length === 0) return false;
    this.pending.set(tid, { sites, offset });
    return true;
  }

  /**
   * The sites of an mmap's range when the cache knows the file by its identity: one `stat(2)` of the
   * `/proc/TID/fd/N` link (it never opens the file, so a FIFO or device cannot block it). Null: not known (or not
   * a regular file, which the open path counts and skips), open the file.
   */
  private sitesByIdentity(path: string, offset: number, length: number): number[] | null {
    const b = this.statBuf;
    if (this.c.stat(path, b) !== 0) return null;
    const v = new DataView(b.buffer, b.byteOffset, STAT_BYTES);
    if ((v.getUint32(24, true) & 0o170000) !== 0o100000) return null; // st_mode: not S_IFREG
    const id = {
      dev: Number(v.getBigUint64(0, true)),
      ino: Number(v.getBigUint64(8, true)),
      size: Number(v.getBigInt64(48, true)),
      mtimeMs: Number(v.getBigInt64(88, true)) * 1000 + Number(v.getBigInt64(96, true)) / 1e6,
    };
    const sites = this.cache.cachedSitesInRange(id, offset, length);
    if (sites !== null) this.counters.mmapsByIdentity++;
    return sites;
  }

  /** The syscall-exit stop of an executable mmap let through by {@link mmapEntry}: patch the new mapping. */
  mmapExit(tid: number): boolean {
    const p = this.pending.get(tid);
    if (p === undefined) return false;
    this.pending.delete(tid);
    if (!this.regs.fetch(tid)) return true;
    const w = this.regs.words;
    const i386 = this.regs.i386();
    const ret = i386 ? w[UREG.rax * 2]! : this.regs.u64(UREG.rax);
    const failed = i386 ? ret >= 0xfffff001 : w[UREG.rax * 2 + 1]! === 0xffffffff && w[UREG.rax * 2]! >= 0xfffff001;
    if (failed) return true;
    const set = this.sitesOf(this.tgidOf(tid));
    for (const off of p.sites) this.patchSite(tid, set, ret + (off - p.offset));
    return true;
  }

  /** Whether `tid` is waiting at an executable mmap's exit. */
  awaitingExit(tid: number): boolean {
    return this.pending.has(tid);
  }

  /** SIGILL: at a patched site? Then emulate CPUID and step over it. */
  cpuidTrap(tid: number): boolean {
    if (this.sites.size === 0) return false;
    const set = this.sitesOf(this.tgidOf(tid));
    if (set.set.size === 0) return false;
    const done = this.regs.update(tid, this.cpu, (cpu) => {
      const regs = cpu.regs;
      const rip = regs.getNumber(Reg.RIP);
      if (!set.set.has(rip)) return false; // the program's own ud2
      const [a, b, cx, d] = vmwareCpuid(regs.lo(Reg.RAX), regs.lo(Reg.RCX), this.profile);
      regs.set32ZeroExtend(Reg.RAX, a);
      regs.set32ZeroExtend(Reg.RBX, b);
      regs.set32ZeroExtend(Reg.RCX, cx);
      regs.set32ZeroExtend(Reg.RDX, d);
      regs.set64(Reg.RIP, BigInt(rip + 2));
      return true;
    });
    if (done) this.counters.cpuids++;
    return done;
  }

  /** Read 8 bytes at `addr` of `pid` into `this.word`. */
  private peek(pid: number, addr: number): boolean {
    this.mem.pid = pid;
    return this.mem.read(addr >>> 0, Math.floor(addr / 0x1_0000_0000), this.word, 0, 8) === 8;
  }

  /** Write 8 bytes with PTRACE_POKEDATA (works on read-only private text, as a debugger's breakpoint does). */
  private poke(pid: number, addr: number, bytes: Uint8Array): boolean {
    const w = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
    return this.c.ptrace(PTRACE.POKEDATA, pid, BigInt(addr), w) === 0;
  }
}

/** A numeric field of /proc/PID/status, or null. */
export function procStatusField(pid: number, field: string): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** AT_ENTRY of a process, from /proc/PID/auxv (u64 pairs for 64-bit programs, u32 pairs for i386). */
function auxvEntry(pid: number): number | null {
  let auxv: Buffer;
  let is64 = true;
  try {
    auxv = readFileSync(`/proc/${pid}/auxv`);
    const fd = openSync(`/proc/${pid}/exe`, "r");
    const hdr = Buffer.alloc(5);
    readSync(fd, hdr, 0, 5, 0);
    closeSync(fd);
    is64 = hdr[4] === 2;
  } catch {
    return null;
  }
  const AT_ENTRY = 9;
  const step = is64 ? 16 : 8;
  for (let o = 0; o + step <= auxv.length; o += step) {
    const type = is64 ? Number(auxv.readBigUInt64LE(o)) : auxv.readUInt32LE(o);
    if (type === 0) break;
    if (type === AT_ENTRY) return is64 ? Number(auxv.readBigUInt64LE(o + 8)) : auxv.readUInt32LE(o + 4);
  }
  return null;
}
