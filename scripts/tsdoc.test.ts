/** The TSDoc check names every undocumented exported declaration and member, and passes the real tree. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { checkTsdoc, undocumentedExports } from "./tsdoc.js";

const names = (text: string) => undocumentedExports("a.ts", text).map((u) => u.name);

test("exported declarations without a doc comment are named; local and documented ones are not", () => {
  const text = [
    "export function bare(): void {}",
    "/** Documented. */",
    "export function ok(): void {}",
    "function local(): void {}",
    "// a line comment is not TSDoc",
    "export const A = 1, B = 2;",
    "/** Both. */",
    "export const C = 1, D = 2;",
    "export type T = number;",
    "export enum E { X }",
    "/* not a doc comment either */",
    "export interface I {}",
  ].join("\n");
  assert.deepEqual(names(text), ["bare", "A", "B", "T", "E", "I"]);
});

test("public members of exported classes and members of exported interfaces need docs; private ones and constructors do not", () => {
  const text = `/** A class. */
export class K {
  constructor(x: number) {}
  field = 1;
  /** Documented. */
  done = 2;
  private hidden = 3;
  protected inner = 4;
  #secret = 5;
  method(): void {}
  get value(): number { return 1; }
  set value(v: number) {}
}
/** An interface. */
export interface I {
  a: number;
  /** Documented. */
  b: number;
  call(): void;
}
class Local { undocumented = 1; }`;
  assert.deepEqual(names(text), ["K.field", "K.method", "K.value", "I.a", "I.call"]);
});

test("a class member inherits the doc of the interface member it implements, across modules", () => {
  const itf = {
    path: "src/x/i.ts",
    text: "/** I. */\nexport interface Source {\n  /** Documented once. */\n  read(): number;\n  write(): void;\n}\n",
  };
  const cls = {
    path: "src/x/k.ts",
    text: "/** K. */\nexport class K implements Source {\n  read(): number { return 0; }\n  write(): void {}\n}\n",
  };
  assert.deepEqual(
    checkTsdoc([itf, cls]).map((v) => `${v.path} ${v.message}`),
    ["src/x/i.ts:5 exported Source.write has no TSDoc comment", "src/x/k.ts:4 exported K.write has no TSDoc comment"],
  );
});

test("test files are not checked; every module under src/ is documented (the real tree)", () => {
  assert.deepEqual(checkTsdoc([{ path: "src/x/a.test.ts", text: "export const x = 1;\n" }]), []);
  const root = join(import.meta.dirname, "..");
  const files: { path: string; text: string }[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith(".ts")) files.push({ path: relative(root, p).split(sep).join("/"), text: readFileSync(p, "utf8") });
    }
  };
  walk(join(root, "src"));
  assert.deepEqual(checkTsdoc(files), []);
});
