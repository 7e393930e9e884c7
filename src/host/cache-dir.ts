/**
 * Where vmport keeps what it can rebuild: CPUID site lists and its small static helper executables.
 *
 * Emulates: nothing. `$XDG_CACHE_HOME/vmport` (default `~/.cache/vmport`), as the XDG base directory rules say.
 * Does not: clean itself; everything in it may be deleted at any time.
 */
import { homedir } from "node:os";
import { join } from "node:path";

/** The cache root, `$XDG_CACHE_HOME/vmport`. */
export function cacheRoot(): string {
  return join(process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache"), "vmport");
}
