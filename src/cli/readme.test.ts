/** The README's `vmport decode` and `vmport step` examples print what the README says they print. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");
const MAIN = join(import.meta.dirname, "main.ts");

interface Example {
  command: string;
  input: string | null;
  expected: string[];
}

/**
 * `$ [printf '…' |] npx vmport decode|step …` lines in console blocks, each followed by its output lines. The
 * `vmport run` examples need open-vm-tools and files of the reader's; `open-vm-tools.test.ts` runs them.
 */
function examples(): Example[] {
  const text = readFileSync(join(ROOT, "README.md"), "utf8");
  const out: Example[] = [];
  for (const block of text.matchAll(/```console\n([\s\S]*?)```/g)) {
    let cur: Example | null = null;
    for (const line of block[1]!.split("\n")) {
      const m = /^\$ (?:printf '([^']*)' \| )?npx vmport ((?:decode|step) .*?)(?:\s+#.*)?$/.exec(line);
      if (/^\$ /.test(line) && !m) {
        cur = null;
        continue;
      }
      if (m) {
        cur = { command: m[2]!, input: m[1] === undefined ? null : m[1].replace(/\\n/g, "\n"), expected: [] };
        out.push(cur);
      } else if (cur && line.trim() !== "") cur.expected.push(line);
    }
  }
  return out;
}

/** Split a shell command line (double-quoted words supported). */
function words(cmd: string): string[] {
  return [...cmd.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

/** Does `actual` JSON match `expected`, where "…" in expected stands for any omitted members? */
function matches(actual: string, expected: string): boolean {
  if (!expected.includes("…")) return actual === expected;
  const parts = expected.split("…").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp("^" + parts.join(".*") + "$").test(actual);
}

test("README examples", () => {
  const ex = examples();
  assert.ok(ex.length >= 7, `found only ${ex.length} examples`);
  for (const e of ex) {
    const r = spawnSync(process.execPath, ["--import", "tsx", MAIN, ...words(e.command)], { encoding: "utf8", input: e.input ?? "" });
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, e.expected.length, `${e.command}: ${r.stdout}${r.stderr}`);
    for (const [i, exp] of e.expected.entries())
      assert.ok(matches(lines[i]!, exp), `${e.command}\n  got      ${lines[i]}\n  expected ${exp}`);
  }
});

test("the README's vmport/host example is src/host/example.test.ts, exactly (npm test runs it)", () => {
  const text = readFileSync(join(ROOT, "README.md"), "utf8");
  const file = readFileSync(join(ROOT, "src/host/example.test.ts"), "utf8");
  assert.ok(text.includes("```ts\n" + file + "```\n"), "the README's ```ts block differs from src/host/example.test.ts");
});
