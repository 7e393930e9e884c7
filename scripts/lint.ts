/**
 * `npm run lint`: enforce, over `src/`, the layering rule and module header comments (`scripts/layers.ts`), that
 * every citation in a comment resolves to a file and section of `docs/` (`scripts/citations.ts`), and that every
 * exported declaration and member has a TSDoc comment (`scripts/tsdoc.ts`).
 * Prints one line per violation and exits 1 if there is any. The `lint` script then runs `biome ci` (formatting and
 * the general lint rules, configured and justified in `biome.jsonc`).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { checkCitations, docHeadings, type DocHeadings } from "./citations.js";
import { checkSources, type SourceFile } from "./layers.js";
import { checkTsdoc } from "./tsdoc.js";

const root = join(import.meta.dirname, "..");

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

const files: SourceFile[] = walk(join(root, "src"), []).map((p) => ({
  path: relative(root, p).split(sep).join("/"),
  text: readFileSync(p, "utf8"),
}));
const docs = new Map<string, DocHeadings>();
for (const name of readdirSync(join(root, "docs"))) {
  if (name.endsWith(".md")) docs.set(`docs/${name}`, docHeadings(readFileSync(join(root, "docs", name), "utf8")));
}
const violations = [...checkSources(files), ...checkCitations(files, docs), ...checkTsdoc(files)];
for (const v of violations) console.error(`lint: ${v.path}: ${v.message}`);
if (violations.length > 0) process.exit(1);
console.log(`lint: ${files.length} files, layering, module headers, docs citations and TSDoc clean`);
