/**
 * CLI error reporting: host-side misuse becomes one `vmport:` line on stderr and a non-zero exit.
 *
 * Does not: print stack traces, except for a genuine bug (an error that is not a VmportError), and then only
 * with `VMPORT_DEBUG=1`.
 */
import { isVmportError, VmportError } from "../core/errors.js";

/** Exit status for usage errors (bad arguments, bad profile). */
export const EXIT_USAGE = 2;

/** Throw a usage error naming the problem. */
export function usage(message: string): never {
  throw new VmportError("VMPORT_BAD_ARGUMENT", message);
}

/** Print `err` as one `vmport:` line and return the exit status to use. */
export function reportError(err: unknown): number {
  if (isVmportError(err)) {
    process.stderr.write(`vmport: ${err.message}\n`);
    return EXIT_USAGE;
  }
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`vmport: internal error: ${msg}\n`);
  if (process.env["VMPORT_DEBUG"] === "1" && err instanceof Error && err.stack) process.stderr.write(err.stack + "\n");
  return 70; // EX_SOFTWARE
}
