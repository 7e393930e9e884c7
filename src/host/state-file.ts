/**
 * State files written atomically: temp file in the same directory, fsync, rename, fsync of the directory.
 *
 * Emulates: nothing; "nothing lost" for `--state`: a crash of the guest or of vmport leaves either the old or the
 * new file, never a torn one.
 * Does not: lock the file against a second vmport using it.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, existsSync } from "node:fs";
import { dirname, basename, join } from "node:path";
import { VmportError } from "../core/errors.js";

/** Write `text` to `path` atomically. */
export function writeFileAtomic(path: string, text: string, encoding: BufferEncoding = "utf8"): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, text, null, encoding);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  try {
    const dfd = openSync(dirname(path), "r");
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  }
}

/** Read and parse a JSON state file; null if it does not exist. */
export function readStateFile(path: string): unknown {
  if (!existsSync(path)) return null;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new VmportError("VMPORT_BAD_STATE", `cannot read state file ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new VmportError("VMPORT_BAD_STATE", `state file ${path} is not JSON: ${(e as Error).message}`);
  }
}
