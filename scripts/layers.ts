/**
 * The layering rule, as data and a checker: imports flow one way,
 * front ends (cli → fuzz → host, guest, v86) → vm → channels → devices → bus → x86 → core.
 *
 * Engine layers (core … vm) may import nothing from Node or npm, so the engine runs anywhere (emulators in a
 * browser, workers). Test files (`*.test.ts`) and `test-support/` are exempt: tests may reach across layers.
 */

/** Layer ranks: a file may import only from its own rank or lower. */
export const LAYER_RANK: Readonly<Record<string, number>> = {
  core: 0,
  x86: 1,
  bus: 2,
  devices: 3,
  channels: 4,
  vm: 5,
  host: 6,
  guest: 6,
  v86: 6,
  /** `vmport fuzz`: drives the tracer (host) with a hostile VM; only the CLI uses it. */
  fuzz: 7,
  cli: 8,
};

/** Layers that must stay free of Node built-ins and npm packages. */
export const ENGINE_LAYERS = new Set(["core", "x86", "bus", "devices", "channels", "vm"]);

/** A source file: path relative to the repository root (POSIX separators) and its text. */
export interface SourceFile {
  path: string;
  text: string;
}

/** One rule violation. */
export interface Violation {
  path: string;
  message: string;
}

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

/** The layer of a path under `src/`, or null. */
export function layerOf(path: string): string | null {
  const m = /^src\/([^/]+)\//.exec(path);
  return m && m[1]! in LAYER_RANK ? m[1]! : null;
}

function resolveRelative(from: string, spec: string): string {
  const parts = from.split("/").slice(0, -1);
  for (const seg of spec.split("/")) {
    if (seg === "..") parts.pop();
    else if (seg !== ".") parts.push(seg);
  }
  return parts.join("/");
}

/** Check every file; returns the violations (empty when clean). */
export function checkSources(files: readonly SourceFile[]): Violation[] {
  const out: Violation[] = [];
  for (const f of files) {
    if (!f.path.startsWith("src/") || f.path.endsWith(".test.ts") || f.path.includes("/test-support/")) continue;
    const layer = layerOf(f.path);
    if (layer === null) {
      out.push({ path: f.path, message: `is not in a known layer (${Object.keys(LAYER_RANK).join(", ")})` });
      continue;
    }
    if (!/^(#![^\n]*\n)?\/\*\*/.test(f.text)) out.push({ path: f.path, message: "must open with a /** module comment */" });
    for (const m of f.text.matchAll(IMPORT_RE)) {
      const spec = (m[1] ?? m[2])!;
      if (spec.startsWith(".")) {
        const target = resolveRelative(f.path, spec);
        const tl = layerOf(target + "/x");
        if (tl === null) out.push({ path: f.path, message: `imports "${spec}" outside the layers` });
        else if (LAYER_RANK[tl]! > LAYER_RANK[layer]!) {
          out.push({ path: f.path, message: `layer ${layer} imports "${spec}" from higher layer ${tl}` });
        }
      } else if (ENGINE_LAYERS.has(layer)) {
        out.push({ path: f.path, message: `engine layer ${layer} imports "${spec}"; the engine uses no Node or npm modules` });
      }
    }
  }
  return out;
}
