// Runs every *.test.ts under src/, scripts/ and bench/ with node:test through tsx (Node 20 has no --test globs).
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const root = join(import.meta.dirname, "..");
const files = [];
const walk = (d) => {
  for (const n of readdirSync(d)) {
    if (n === "node_modules" || n === "dist") continue;
    const p = join(d, n);
    if (statSync(p).isDirectory()) walk(p);
    else if (n.endsWith(".test.ts")) files.push(p);
  }
};
for (const d of ["src", "scripts", "bench"]) walk(join(root, d));
files.sort();
const extra = process.argv.slice(2);
// Hang guards, not speed limits: a test that has not settled after TEST_TIMEOUT_MS fails instead of holding the run,
// and a file whose tests have all settled exits even when a failed test left a guest or a server behind.
const TEST_TIMEOUT_MS = 600_000;
const guards = ["--test-force-exit", `--test-timeout=${TEST_TIMEOUT_MS}`];
const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", ...guards, ...extra, ...files], {
  stdio: "inherit",
  cwd: root,
});
process.exit(r.status ?? 1);
