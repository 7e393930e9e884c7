/**
 * The engine is embeddable wherever v86 runs, browsers included: `vmport/vm` and `vmport/v86` bundle for the
 * browser (esbuild, platform "browser") with nothing from Node and no npm package at all. A Node built-in or a
 * native module anywhere in their import graph fails the build, which fails this test (the second test shows it
 * would).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { build } from "esbuild";

const ROOT = join(import.meta.dirname, "..");

async function bundle(entry: string): Promise<{ errors: string[]; inputs: string[] }> {
  try {
    const r = await build({
      entryPoints: [entry],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    return { errors: [], inputs: Object.keys(r.metafile.inputs) };
  } catch (e) {
    return { errors: ((e as { errors?: { text: string }[] }).errors ?? []).map((x) => x.text), inputs: [] };
  }
}

for (const entry of ["src/vm/index.ts", "src/v86/index.ts"]) {
  test(`${entry} bundles for the browser with no Node built-in, no native module, no npm package`, async () => {
    const r = await bundle(join(ROOT, entry));
    assert.deepEqual(r.errors, []);
    const outside = r.inputs.filter((p) => !relative(ROOT, join(ROOT, p)).startsWith("src/") || p.includes("node_modules"));
    assert.deepEqual(outside, []);
    assert.ok(r.inputs.length > 5, "the bundle holds the engine modules");
  });
}

test("the check can fail: a module that imports node:fs does not bundle for the browser", async () => {
  const d = mkdtempSync(join(tmpdir(), "vmport-bundle-"));
  const f = join(d, "bad.ts");
  writeFileSync(f, 'import { readFileSync } from "node:fs";\nexport const x = readFileSync;\n');
  const r = await bundle(f);
  assert.ok(
    r.errors.some((e) => e.includes("node:fs")),
    r.errors.join("\n"),
  );
});
