/**
 * System-test helpers: find or skip on Debian packages, build the C probe, run the `vmport` CLI.
 * A test that needs a package skips with the exact `apt-get install` line when run by hand, and fails in CI
 * (`VMPORT_REQUIRE_SYSTEM_TESTS=1`).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Whether tests needing Debian packages must fail instead of skipping. */
export const REQUIRE_SYSTEM = process.env["VMPORT_REQUIRE_SYSTEM_TESTS"] === "1";

/** Root of the repository. */
export const ROOT = join(import.meta.dirname, "..", "..");

/**
 * Returns a skip reason (for `test(name, { skip })`) when `check()` fails, or false. In CI it throws instead, so a
 * missing package fails the run.
 */
export function needs(what: string, aptLine: string, check: () => boolean): string | false {
  if (check()) return false;
  const msg = `needs ${what}: apt-get install -y ${aptLine}`;
  if (REQUIRE_SYSTEM) throw new Error(msg);
  return msg;
}

/** True when `cmd` runs (exit code ignored). */
export function runs(cmd: string, args: string[] = ["--version"]): boolean {
  const r = spawnSync(cmd, args, { stdio: "ignore" });
  return r.error === undefined;
}

/** True when ptrace works here (Linux x86-64). */
export function ptraceUsable(): boolean {
  return process.platform === "linux" && process.arch === "x64";
}

/** Build `src` (path under the repo) with gcc into a temp dir; returns the binary path, or null on failure. */
export function buildC(src: string, name: string, flags: string[] = []): string | null {
  const dir = mkdtempSync(join(tmpdir(), "vmport-c-"));
  const out = join(dir, name);
  const r = spawnSync("gcc", ["-O1", "-pthread", ...flags, "-o", out, join(ROOT, src)], { encoding: "utf8" });
  if (r.status !== 0) {
    if (REQUIRE_SYSTEM) throw new Error(`gcc failed: ${r.stderr}`);
    return null;
  }
  return existsSync(out) ? out : null;
}

/** Run the vmport CLI (from source, through tsx). */
export function vmport(args: string[], opts: { input?: string; timeoutMs?: number } = {}) {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), ...args], {
    encoding: "utf8",
    input: opts.input ?? "",
    timeout: opts.timeoutMs ?? 60_000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}
