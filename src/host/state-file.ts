/**
 * Files written atomically, so that a crash of the guest or of vmport (SIGKILL included) leaves either the old or
 * the new file, never a torn one, never a leftover temp file, and never a write redirected elsewhere.
 *
 * Emulates: nothing; the README's "nothing lost" rule for `--state` and `--report`.
 * Two writers:
 * - {@link writeFileAtomic} (caches, helper executables): a temp file beside the target with an unpredictable
 *   name (`.NAME.<16 hex digits from a CSPRNG>.tmp`), created with O_CREAT | O_EXCL | O_NOFOLLOW and mode 0600
 *   (an existing file or a planted symlink at that name makes it fail instead of writing through it), written,
 *   fsync'ed, renamed over the target, directory fsync'ed; the temp file is removed on every error path.
 * - {@link writeDurableFile} (`--state`, `--report`): the data goes to an *unnamed* file in the target's directory
 *   (O_TMPFILE), is fsync'ed, and a separate tiny process (the link helper, a static executable vmport writes to
 *   its cache) gives it a temp name and renames it over the target. The only moment a temp name exists is inside
 *   that helper, which runs with every signal blocked and is not part of vmport: killing vmport at any moment
 *   leaves no temp file (the unnamed file vanishes with vmport; a started helper finishes its two system calls).
 *   Filesystems without O_TMPFILE fall back to the first writer.
 * Source of truth: `open(2)` (O_TMPFILE, O_EXCL with O_CREAT does not follow symlinks), `linkat(2)`
 * (AT_SYMLINK_FOLLOW on `/proc/self/fd/N` links an O_TMPFILE file without CAP_DAC_READ_SEARCH), `rename(2)`.
 * Does not: lock the target against a second vmport writing it; protect against a process that can already write
 * the target directory replacing the file between two saves (that is the directory owner's right).
 */
import {
  closeSync,
  constants as FS,
  fsyncSync,
  fstatSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
  accessSync,
  statSync,
  type Stats,
} from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { VmportError } from "../core/errors.js";
import { imm32, installImage, staticImage } from "./static-elf.js";

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Mode of the new file (default 0600). */
  mode?: number;
}

const bytesOf = (data: string | Uint8Array): Uint8Array => (typeof data === "string" ? Buffer.from(data, "utf8") : data);

/** An unpredictable temp name beside `path`. */
export function tempNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(8).toString("hex")}.tmp`);
}

function writeAll(fd: number, b: Uint8Array): void {
  for (let off = 0; off < b.length; ) off += writeSync(fd, b, off, b.length - off);
}

function fsyncDir(path: string): void {
  try {
    const dfd = openSync(dirname(path), FS.O_RDONLY | FS.O_DIRECTORY);
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  }
}

/** Write `data` (text is UTF-8) to `path` atomically through an unpredictably named, exclusively created temp file. */
export function writeFileAtomic(path: string, data: string | Uint8Array, o: AtomicWriteOptions = {}): void {
  const tmp = tempNameFor(path);
  const fd = openSync(tmp, FS.O_WRONLY | FS.O_CREAT | FS.O_EXCL | FS.O_NOFOLLOW, o.mode ?? 0o600);
  let done = false;
  try {
    try {
      writeAll(fd, bytesOf(data));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    done = true;
  } finally {
    if (!done) {
      try {
        unlinkSync(tmp);
      } catch {
        // already gone
      }
    }
  }
  fsyncDir(path);
}

/** `O_TMPFILE` on Linux (includes O_DIRECTORY). */
const O_TMPFILE = 0o20200000;

/**
 * The link helper: `helper /proc/self/fd/3 TMP TARGET` → `linkat(AT_FDCWD, argv[1], AT_FDCWD, TMP,
 * AT_SYMLINK_FOLLOW)`, then `rename(TMP, TARGET)` (on failure it unlinks TMP). Exit status: 0 done; errno of a
 * failed linkat (1–127); 128 + errno of a failed rename.
 */
export function linkHelperCode(): number[] {
  const AT_FDCWD = -100 >>> 0;
  // biome-ignore format: byte fixture, one instruction or field per line with its mnemonic beside it
  const head = [
    0x48, 0x8b, 0x74, 0x24, 0x10, // mov rsi, [rsp+16]   ; argv[1]: /proc/self/fd/3
    0x4c, 0x8b, 0x54, 0x24, 0x18, // mov r10, [rsp+24]   ; argv[2]: TMP
    0xbf, ...imm32(AT_FDCWD), // mov edi, AT_FDCWD
    0xba, ...imm32(AT_FDCWD), // mov edx, AT_FDCWD
    0x41, 0xb8, ...imm32(0x400), // mov r8d, AT_SYMLINK_FOLLOW
    0xb8, ...imm32(265), // mov eax, 265 (linkat)
    0x0f, 0x05, // syscall
    0x85, 0xc0, // test eax, eax
  ];
  // biome-ignore format: byte fixture, one instruction or field per line with its mnemonic beside it
  const exitWithEax = [
    0xf7, 0xd8, // neg eax                ; -errno → errno
    0x89, 0xc7, // mov edi, eax
    0xb8, ...imm32(231), // mov eax, 231 (exit_group)
    0x0f, 0x05, // syscall
  ];
  // biome-ignore format: byte fixture, one instruction or field per line with its mnemonic beside it
  const renameFailed = [
    0xf7, 0xd8, // neg eax
    0x0c, 0x80, // or al, 0x80             ; 128 + errno
    0x89, 0xc3, // mov ebx, eax
    0x48, 0x8b, 0x7c, 0x24, 0x18, // mov rdi, [rsp+24]  ; TMP
    0xb8, ...imm32(87), // mov eax, 87 (unlink)
    0x0f, 0x05, // syscall
    0x0f, 0xb6, 0xfb, // movzx edi, bl
    0xb8, ...imm32(231), // mov eax, 231 (exit_group)
    0x0f, 0x05, // syscall
  ];
  // biome-ignore format: byte fixture, one instruction or field per line with its mnemonic beside it
  const success = [
    0x31, 0xff, // xor edi, edi
    0xb8, ...imm32(231), // mov eax, 231 (exit_group)
    0x0f, 0x05, // syscall
  ];
  // biome-ignore format: byte fixture, one instruction or field per line with its mnemonic beside it
  const rename = [
    0x48, 0x8b, 0x7c, 0x24, 0x18, // mov rdi, [rsp+24]  ; TMP
    0x48, 0x8b, 0x74, 0x24, 0x20, // mov rsi, [rsp+32]  ; TARGET
    0xb8, ...imm32(82), // mov eax, 82 (rename)
    0x0f, 0x05, // syscall
    0x85, 0xc0, // test eax, eax
    0x75, success.length, // jnz renameFailed
    ...success,
  ];
  // head ends with `test eax, eax`; then `jnz linkFailed` over the rename block and its failure path.
  return [...head, 0x75, rename.length + renameFailed.length, ...rename, ...renameFailed, ...exitWithEax];
}

let helperPath: string | null = null;

/** Path of the link helper executable (written to the cache on first use). */
export function linkHelperPath(): string {
  helperPath ??= installImage("link-helper", staticImage(() => linkHelperCode(), new Uint8Array(0)).image);
  return helperPath;
}

/** The process calls {@link writeDurableFile} needs: spawn with fd 3 and a blocked signal mask, and wait. */
export interface Spawner {
  /** Run `argv` with `fd` as its descriptor 3 and every signal blocked; return its exit status (-1: not run). */
  runWithFd3(path: string, argv: string[], fd: number): number;
}

let defaultSpawner: Spawner | null = null;

async function loadSpawner(): Promise<Spawner> {
  const { libc } = await import("./ptrace/libc.js");
  const c = libc();
  return {
    runWithFd3(path, argv, fd) {
      const fa = c.alloc(80);
      const attr = c.alloc(336);
      c.faInit(fa.ptr);
      c.faAddDup2(fa.ptr, fd, 3);
      c.attrInit(attr.ptr);
      c.attrSetSigMask(attr.ptr, new Uint8Array(128).fill(0xff));
      c.attrSetFlags(attr.ptr, 0x08); // POSIX_SPAWN_SETSIGMASK
      const pid = new Int32Array(1);
      const rc = c.posixSpawn(pid, path, fa.ptr, attr.ptr, [...argv, null], [null]);
      c.faDestroy(fa.ptr);
      c.attrDestroy(attr.ptr);
      if (rc !== 0) return -1;
      const st = new Int32Array(1);
      for (;;) {
        const r = c.waitpid(pid[0]!, st, 0);
        if (r === pid[0]) break;
        if (c.errno() !== 4 /* EINTR */) return -1;
      }
      const s = st[0]!;
      return (s & 0x7f) === 0 ? (s >> 8) & 0xff : -1;
    },
  };
}

/** Load what {@link writeDurableFile} needs (koffi); call once before the first durable write. */
export async function prepareDurableWrites(): Promise<void> {
  defaultSpawner ??= await loadSpawner();
  linkHelperPath();
}

/** Counters of {@link writeDurableFile}, for tests and `--verbose`. */
export const durableWriteCounters = { tmpfile: 0, fallback: 0 };

/**
 * Write `data` to `path` so that no kill of vmport can leave a torn target or a temp file (see the module
 * comment). Needs {@link prepareDurableWrites} first; without it (or without O_TMPFILE support in the target's
 * filesystem) this is {@link writeFileAtomic}.
 * @throws Error from the file system (ENOSPC, EACCES, …), with the temp state cleaned up.
 */
export function writeDurableFile(path: string, data: string | Uint8Array, spawner: Spawner | null = defaultSpawner): void {
  if (spawner === null || process.platform !== "linux") {
    durableWriteCounters.fallback++;
    writeFileAtomic(path, data);
    return;
  }
  let fd: number;
  try {
    fd = openSync(dirname(path), O_TMPFILE | FS.O_WRONLY, 0o600);
  } catch {
    durableWriteCounters.fallback++;
    writeFileAtomic(path, data); // no O_TMPFILE on this filesystem
    return;
  }
  try {
    writeAll(fd, bytesOf(data));
    fsyncSync(fd);
    const status = spawner.runWithFd3(linkHelperPath(), ["vmport-link", "/proc/self/fd/3", tempNameFor(path), path], fd);
    if (status !== 0) {
      const what =
        status < 0
          ? "could not run the link helper"
          : status >= 128
            ? `rename failed (errno ${status - 128})`
            : `link failed (errno ${status})`;
      throw new Error(`cannot write ${path}: ${what}`);
    }
  } finally {
    closeSync(fd);
  }
  durableWriteCounters.tmpfile++;
  fsyncDir(path);
}

/** Limits on files vmport reads on the host's behalf. */
export const HOST_FILE_LIMITS = {
  /** `--profile`. */
  profile: 1024 * 1024,
  /** `--guestinfo KEY=@FILE`: the largest guestinfo value (64 KiB − 2). */
  guestinfoValue: 65534,
  /** `--state`: guestinfo (≤ 8 MiB of values) written as JSON can take up to six characters a byte. */
  state: 64 * 1024 * 1024,
} as const;

/**
 * Read a host-named file that must be a regular file of at most `maxBytes`. Opening cannot block (O_NONBLOCK:
 * a FIFO is refused, not waited on); devices, FIFOs, sockets and directories are refused.
 * @throws VmportError VMPORT_BAD_ARGUMENT naming `what`, the path and the problem
 */
export function readHostFile(path: string, what: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, FS.O_RDONLY | FS.O_NONBLOCK | FS.O_NOCTTY);
  } catch (e) {
    throw new VmportError("VMPORT_BAD_ARGUMENT", `${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new VmportError("VMPORT_BAD_ARGUMENT", `${what} ${path}: not a regular file (${fileKind(st)})`);
    if (st.size > maxBytes)
      throw new VmportError("VMPORT_BAD_ARGUMENT", `${what} ${path}: ${st.size} bytes, more than the limit of ${maxBytes}`);
    // Read at most maxBytes + 1, whatever fstat said (the file may grow meanwhile).
    const buf = Buffer.alloc(Math.min(maxBytes + 1, st.size + 1));
    let n = 0;
    for (;;) {
      if (n === buf.length) break;
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
    }
    if (n > maxBytes) throw new VmportError("VMPORT_BAD_ARGUMENT", `${what} ${path}: more than the limit of ${maxBytes} bytes`);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function fileKind(st: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
}): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  return "not a regular file";
}

/**
 * Check, before anything runs, that `path` can be written: its directory exists and is writable, and the file, if
 * it exists, is a regular file (unless `regularOnly` is false: a trace may go to a FIFO).
 * @throws VmportError VMPORT_BAD_ARGUMENT naming `what` and the problem
 */
export function checkWritableTarget(path: string, what: string, o: { regularOnly?: boolean } = {}): void {
  const dir = dirname(path);
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (e) {
    throw new VmportError(
      "VMPORT_BAD_ARGUMENT",
      `${what} ${path}: directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  if (!st.isDirectory()) throw new VmportError("VMPORT_BAD_ARGUMENT", `${what} ${path}: ${dir} is not a directory`);
  try {
    accessSync(dir, FS.W_OK | FS.X_OK);
  } catch {
    throw new VmportError("VMPORT_BAD_ARGUMENT", `${what} ${path}: directory ${dir} is not writable`);
  }
  if (o.regularOnly === false) return;
  try {
    const t = statSync(path);
    if (!t.isFile()) throw new VmportError("VMPORT_BAD_ARGUMENT", `${what} ${path}: exists and is ${fileKind(t)}`);
  } catch (e) {
    if (e instanceof VmportError) throw e;
    // does not exist yet: fine
  }
}

/**
 * Read and parse a JSON state file; null if it does not exist.
 * @throws VmportError VMPORT_BAD_ARGUMENT when it is not a regular file or too large; VMPORT_BAD_STATE when it
 * is not JSON
 */
export function readStateFile(path: string): unknown {
  try {
    statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
  }
  const text = readHostFile(path, "--state", HOST_FILE_LIMITS.state).toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new VmportError("VMPORT_BAD_STATE", `state file ${path} is not JSON: ${(e as Error).message}`);
  }
}
