/** The citation checker rejects what it must and passes the real tree. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { checkCitations, checkComment, commentsOf, docHeadings, type DocHeadings } from "./citations.js";

const DOCS = new Map<string, DocHeadings>([
  [
    "docs/protocol.md",
    docHeadings("# Title\n\n## 3. The LB commands\n\n### 3.1 Identity\n\n## The v86 path\n\n```\n## 9. in a fence\n```\n"),
  ],
]);
const file = (text: string) => [{ path: "src/x/a.ts", text }];

test("an existing document, section number, anchor and quoted heading pass", () => {
  for (const c of [
    "see `docs/protocol.md`",
    "`docs/protocol.md` §3 and §3.1",
    "docs/protocol.md#3-the-lb-commands",
    '`docs/protocol.md` "The v86 path"',
    "`docs/protocol.md` §3; SDM vol. 1 §19.5",
  ]) {
    assert.deepEqual(checkComment(c, DOCS), [], c);
  }
});

test("a missing document, section, anchor or heading fails, named", () => {
  assert.deepEqual(checkComment("`docs/peers.md` §2", DOCS), ["cites docs/peers.md, which does not exist"]);
  assert.deepEqual(checkComment("`docs/protocol.md` §3, §7", DOCS), ["cites docs/protocol.md §7: no heading numbered 7"]);
  assert.deepEqual(
    checkComment("`docs/protocol.md` §9", DOCS),
    ["cites docs/protocol.md §9: no heading numbered 9"],
    "a heading in a code fence is not one",
  );
  assert.deepEqual(checkComment("docs/protocol.md#2-gone", DOCS), ["cites docs/protocol.md#2-gone: no such heading"]);
  assert.deepEqual(checkComment('`docs/protocol.md` "The v87 path"', DOCS), ['cites docs/protocol.md "The v87 path": no such heading']);
});

test("the private notes are rejected without docs/ before them", () => {
  for (const c of ["`protocol.md` §3", "(peers.md §3)", "style.md §2.4", "tracer-notes §4.1", "`real-clients.md`"]) {
    const p = checkComment(c, DOCS);
    assert.equal(p.length, 1, c);
    assert.match(p[0]!, /private note not in the repository/);
  }
});

test("only comments are read, with their line; strings holding comment markers are not comments", () => {
  const text = [
    "/**",
    " * Header: `docs/protocol.md` §3.",
    " */",
    'const url = "http://x/* not a comment"; // trailing: `protocol.md`',
    'const s = "`docs/nothing.md`";',
    "function f() {",
    "  /* inner: docs/gone.md */",
    "}",
  ].join("\n");
  assert.deepEqual(
    commentsOf("a.ts", text).map((c) => c.line),
    [1, 4, 7],
  );
  const v = checkCitations(file(text), DOCS);
  assert.deepEqual(
    v.map((x) => x.path),
    ["src/x/a.ts:4", "src/x/a.ts:7"],
  );
  assert.match(v[1]!.message, /docs\/gone\.md, which does not exist/);
});

test("a section list that runs onto the next comment line is still checked", () => {
  const v = checkCitations(file("/**\n * Source: `docs/protocol.md` §3,\n * §8 (HB).\n */\nexport {};\n"), DOCS);
  assert.deepEqual(
    v.map((x) => x.message),
    ["cites docs/protocol.md §8: no heading numbered 8"],
  );
});

test("every citation in src/ resolves (the real tree)", () => {
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
  const docs = new Map<string, DocHeadings>();
  for (const n of readdirSync(join(root, "docs")))
    if (n.endsWith(".md")) docs.set(`docs/${n}`, docHeadings(readFileSync(join(root, "docs", n), "utf8")));
  assert.deepEqual(checkCitations(files, docs), []);
  const cited = files.flatMap((f) => commentsOf(f.path, f.text)).filter((c) => /docs\/\w+\.md\S*\s*§/.test(c.text));
  assert.ok(cited.length >= 30, `${cited.length} comments cite a numbered section`);
});
