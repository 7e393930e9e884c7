/**
 * Which file `vmport run -- PROGRAM` executes, and what a shell would say when it cannot.
 *
 * Emulates: `execvp(3)` (a name without a slash is searched in PATH; a file the kernel refuses with ENOEXEC that
 * looks like text runs with `/bin/sh`) and the shell's answers: `PROG: command not found` / `No such file or
 * directory` (exit 127), `Permission denied` / `Is a directory` / `Exec format error` (exit 126). Checks made
 * here are repeated by the kernel at `execve`: the trampoline then exits with the errno, and {@link execFailure}
 * turns it into the same answer.
 * Source of truth: POSIX `execvp`, bash `execute_cmd.c` (126/127, binary-file check on the first line),
 * `errno(3)` numbers and texts on Linux.
 * Does not: run shell functions or builtins; follow bash's hash table.
 */
import { accessSync, closeSync, constants as FS, openSync, readSync, statSync, type Stats } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";

/** What to execute: `path` with `argv` (argv[0] is what the program sees as its name). */
export interface ExecPlan {
  /** The executable file to run (absolute, or relative to the working directory). */
  path: string;
  /** The arguments, `argv[0]` included. */
  argv: string[];
}

/** Why PROGRAM cannot run, as a shell says it. */
export interface ExecRefusal {
  /** One line: `PROG: reason`. */
  message: string;
  /** 127 when not found, else 126. */
  exitStatus: 126 | 127;
}

/** Linux errno numbers and their `strerror` texts, for the ones `execve` returns. */
const ERRNO_TEXT: Record<number, string> = {
  1: "Operation not permitted",
  2: "No such file or directory",
  5: "Input/output error",
  7: "Argument list too long",
  8: "Exec format error",
  12: "Cannot allocate memory",
  13: "Permission denied",
  20: "Not a directory",
  21: "Is a directory",
  22: "Invalid argument",
  23: "Too many open files in system",
  24: "Too many open files",
  26: "Text file busy",
  36: "File name too long",
  40: "Too many levels of symbolic links",
  79: "Can not access a needed shared library",
  80: "Accessing a corrupted shared library",
};

/** The shell's answer for an `execve` that failed with `errno`. */
export function execFailure(prog: string, errno: number): ExecRefusal {
  const text = ERRNO_TEXT[errno] ?? `error ${errno}`;
  return { message: `${prog}: ${text}`, exitStatus: errno === 2 ? 127 : 126 };
}

/** True when the file's first line (at most 80 bytes) holds a NUL byte: bash's test for a binary file. */
function looksBinary(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, FS.O_RDONLY | FS.O_NONBLOCK | FS.O_NOCTTY);
  } catch {
    return true;
  }
  try {
    const b = Buffer.alloc(80);
    const n = readSync(fd, b, 0, 80, 0);
    const line = b.subarray(0, n);
    const nl = line.indexOf(0x0a);
    return (nl < 0 ? line : line.subarray(0, nl)).includes(0);
  } catch {
    return true;
  } finally {
    closeSync(fd);
  }
}

/** First bytes of a file, or null. */
function head(path: string, n: number): Buffer | null {
  try {
    const fd = openSync(path, FS.O_RDONLY | FS.O_NONBLOCK | FS.O_NOCTTY);
    try {
      const b = Buffer.alloc(n);
      return b.subarray(0, readSync(fd, b, 0, n, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
}

/** A candidate file: can it be executed, and if not, why. */
function check(prog: string, p: string): ExecPlan | ExecRefusal {
  let st: Stats;
  try {
    st = statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return execFailure(prog, code === "ENOTDIR" ? 20 : code === "ELOOP" ? 40 : code === "EACCES" ? 13 : code === "ENAMETOOLONG" ? 36 : 2);
  }
  if (st.isDirectory()) return execFailure(prog, 21);
  try {
    accessSync(p, FS.X_OK);
  } catch {
    return execFailure(prog, 13);
  }
  if (!st.isFile() || (st.mode & 0o111) === 0) return execFailure(prog, 13);
  return { path: p, argv: [] };
}

/**
 * Resolve PROGRAM as `execvp` would, refusing what a shell would refuse.
 * @param argv - PROGRAM and its arguments
 * @param pathVar - the PATH to search (the program's environment)
 * @param cwd - directory relative names are resolved against
 */
export function resolveExec(argv: string[], pathVar: string | undefined, cwd = process.cwd()): ExecPlan | ExecRefusal {
  const prog = argv[0]!;
  let path: string;
  if (prog.includes("/")) {
    // Checked where it will be found (the program starts in `cwd`); executed by the name given, so a script's $0
    // is what the caller wrote.
    const r = check(prog, isAbsolute(prog) ? prog : join(cwd, prog));
    if ("message" in r) return r;
    path = prog;
  } else {
    let found: string | null = null;
    let refusal: ExecRefusal | null = null;
    for (const dir of (pathVar ?? "/usr/local/bin:/usr/bin:/bin").split(delimiter)) {
      const p = isAbsolute(dir) ? join(dir, prog) : join(cwd, dir, prog);
      const r = check(prog, p);
      if (!("message" in r)) {
        found = p;
        break;
      }
      if (r.exitStatus === 126 && refusal === null && !r.message.endsWith("Is a directory")) refusal = r; // execvp reports EACCES if nothing better is found
    }
    if (found === null) return refusal ?? { message: `${prog}: command not found`, exitStatus: 127 };
    path = found;
  }
  // A file the kernel cannot execute as such: a text file without "#!" runs with /bin/sh (execvp's ENOEXEC rule);
  // anything else goes to the kernel, which may know it (binfmt_misc) or answer ENOEXEC.
  const h = head(isAbsolute(path) ? path : join(cwd, path), 4);
  const isElf = h !== null && h.length === 4 && h[0] === 0x7f && h[1] === 0x45 && h[2] === 0x4c && h[3] === 0x46;
  const isScript = h !== null && h.length >= 2 && h[0] === 0x23 && h[1] === 0x21;
  if (!isElf && !isScript && h !== null && !looksBinary(isAbsolute(path) ? path : join(cwd, path)))
    return { path: "/bin/sh", argv: ["sh", path, ...argv.slice(1)] };
  return { path, argv };
}
