/** The layering checker catches what it must, and passes the real tree. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { checkSources } from "./layers.js";

const HEADER = "/** module */\n";

test("an upward import is a violation", () => {
  const v = checkSources([{ path: "src/x86/decoder.ts", text: HEADER + 'import { PortBus } from "../bus/port-bus.js";\n' }]);
  assert.equal(v.length, 1);
  assert.match(v[0]!.message, /layer x86 imports .* from higher layer bus/);
});

test("a downward import and a same-layer import are fine", () => {
  const v = checkSources([
    { path: "src/vm/a.ts", text: HEADER + 'import { x } from "../x86/registers.js";\nimport { y } from "./b.js";\n' },
  ]);
  assert.deepEqual(v, []);
});

test("the engine may not import Node or npm modules; front ends may", () => {
  const v = checkSources([
    { path: "src/core/clock.ts", text: HEADER + 'import { hrtime } from "node:process";\n' },
    { path: "src/cli/main.ts", text: HEADER + 'import { Command } from "commander";\n' },
  ]);
  assert.equal(v.length, 1);
  assert.equal(v[0]!.path, "src/core/clock.ts");
});

test("a module without a header comment is a violation; tests are exempt", () => {
  const v = checkSources([
    { path: "src/bus/x.ts", text: "export const a = 1;\n" },
    { path: "src/bus/x.test.ts", text: 'import { VirtualMachine } from "../vm/virtual-machine.js";\n' },
  ]);
  assert.equal(v.length, 1);
  assert.match(v[0]!.message, /module comment/);
});

test("the repository's own sources are clean", () => {
  const root = join(import.meta.dirname, "..");
  const files: { path: string; text: string }[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith(".ts")) files.push({ path: relative(root, p).split(sep).join("/"), text: readFileSync(p, "utf8") });
    }
  };
  walk(join(root, "src"));
  assert.ok(files.length > 20);
  assert.deepEqual(checkSources(files), []);
});
