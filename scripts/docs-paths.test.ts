/**
 * Every repository path named in `README.md` and `docs/*.md` exists.
 *
 * What counts as a repository path (the full rule is in `scripts/docs-paths.ts`): a Markdown link target without a
 * URL scheme, resolved from the document's directory (its `#fragment` must be a heading of the target); and any
 * other token of path characters containing a `/` whose first segment is a top-level entry of this repository
 * (`src/…`, `docs/…`, `bench/…`, `scripts/…`, `examples/…`, `.ci/…`), from the repository root, `*` and `**` as
 * globs that must match something. Upstream paths are written from their project's root
 * (`open-vm-tools/lib/rpcIn/rpcin.c`, `hw/i386/vmport.c`, `arch/x86/kvm/x86.c`, `v86/src/vmware.js`), so they never
 * start with one of our top-level names and are never taken for ours; absolute paths, `~/…`, URLs and `dist/`
 * (generated) are not checked.
 * The first tests pin the rule on small documents (so the real-tree test cannot pass by finding nothing).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  REPOSITORY_ROOT,
  checkDocument,
  checkRepository,
  documentsToCheck,
  formatBroken,
  headingAnchor,
  namedPaths,
  topLevelEntries,
} from "./docs-paths.js";

/** A tiny repository: src/vm/a.ts, src/vm/b.test.ts, docs/x.md (with headings), README.md. */
function fixture(): string {
  const root = mkdtempSync(join(tmpdir(), "vmport-docs-paths-"));
  mkdirSync(join(root, "src", "vm"), { recursive: true });
  mkdirSync(join(root, "docs"));
  mkdirSync(join(root, "node_modules", "pkg"), { recursive: true });
  writeFileSync(join(root, "src", "vm", "a.ts"), "");
  writeFileSync(join(root, "src", "vm", "b.test.ts"), "");
  writeFileSync(
    join(root, "docs", "x.md"),
    "# Title\n\n## Adding an RPC\n\n```\n# not a heading\n```\n\n## The `vmport step` path — why\n\n## Adding an RPC\n",
  );
  writeFileSync(join(root, "README.md"), "");
  return root;
}

const broken = (root: string, doc: string, text: string): string[] => checkDocument(root, doc, text).map(formatBroken);

test("backticked, prose and fenced repository paths are checked from the root; a missing one is named with its line", () => {
  const root = fixture();
  const doc = "Read `src/vm/a.ts` and src/vm/a.ts, then\n`src/vm/missing.ts`.\n\n```\nsrc/vm/      the VM\nsrc/nope/\n```\n";
  assert.deepEqual(broken(root, "docs/x.md", doc), [
    "docs/x.md:2: `src/vm/missing.ts` does not exist",
    "docs/x.md:6: `src/nope/` does not exist",
  ]);
});

test("upstream, absolute, home, URL, src-relative and generated paths are not taken for repository paths", () => {
  const root = fixture();
  const doc = [
    "open-vm-tools `open-vm-tools/lib/rpcIn/rpcin.c`, `lib/message/message.c`; QEMU `hw/i386/vmport.c`;",
    "KVM `arch/x86/kvm/x86.c`; v86 `v86/src/vmware.js`; `/usr/lib/imvirt/vmware`; `~/.cache/vmport/cpuid`;",
    "https://github.com/copy/v86/blob/master/src/vmware.js and `vm/persistence.ts` and `dist/v86/index.js`",
    "`github:vmware/open-vm-tools`, `node_modules/pkg/missing.js`",
  ].join("\n");
  assert.deepEqual(namedPaths("docs/x.md", doc, topLevelEntries(root)), []);
  assert.deepEqual(broken(root, "docs/x.md", doc), []);
});

test("an upstream path written with one of our top-level names first is taken for ours (the documented hazard)", () => {
  const root = fixture();
  assert.deepEqual(broken(root, "docs/x.md", "v86's `src/vmware.js`"), ["docs/x.md:1: `src/vmware.js` does not exist"]);
});

test("link targets resolve from the document's directory; fragments must be headings of the target", () => {
  const root = fixture();
  const doc = [
    "[x](x.md) [readme](../README.md) [a](../src/vm/a.ts) [rpc](x.md#adding-an-rpc) [again](x.md#adding-an-rpc-1)",
    "[step](x.md#the-vmport-step-path--why) [web](https://example.org/src/none) [mail](mailto:a@b.c) [self](#local)",
    "[bad](y.md) [frag](x.md#not-a-heading) [out](../../etc/passwd) [gen](../node_modules/pkg) [self](#nowhere)",
    "[ref]: ../src/vm/gone.ts",
    "## Local",
  ].join("\n");
  assert.deepEqual(broken(root, "docs/links.md", doc), [
    "docs/links.md:3: `y.md` does not exist",
    "docs/links.md:3: `x.md#not-a-heading` has no heading with the anchor #not-a-heading",
    "docs/links.md:3: `../../etc/passwd` leaves the repository",
    "docs/links.md:3: `../node_modules/pkg` points into generated or ignored files",
    "docs/links.md:3: `#nowhere` has no heading with the anchor #nowhere",
    "docs/links.md:4: `../src/vm/gone.ts` does not exist",
  ]);
  // From the root, the same target means another file: links are relative to their document.
  assert.deepEqual(broken(root, "README.md", "[x](x.md)"), ["README.md:1: `x.md` does not exist"]);
});

test("globs must match at least one file; a trailing full stop or ./ is not part of a path", () => {
  const root = fixture();
  assert.deepEqual(broken(root, "README.md", "Tests: `src/vm/*.test.ts`, `src/**/a.ts`, ./src/vm/a.ts."), []);
  assert.deepEqual(broken(root, "README.md", "`src/vm/*.bench.ts`"), ["README.md:1: `src/vm/*.bench.ts` matches no file"]);
});

test("GitHub heading anchors: lower case, punctuation dropped, spaces to dashes", () => {
  assert.equal(headingAnchor("Adding a backdoor command"), "adding-a-backdoor-command");
  assert.equal(headingAnchor("The traced program (`vmport run`)"), "the-traced-program-vmport-run");
  assert.equal(headingAnchor("LB vs HB: register rules — §2"), "lb-vs-hb-register-rules--2");
});

test("README.md and every docs/*.md name only repository paths that exist", () => {
  const docs = documentsToCheck(REPOSITORY_ROOT);
  assert.ok(docs.includes("README.md") && docs.includes("docs/architecture.md"), `documents: ${docs.join(", ")}`);
  const top = topLevelEntries(REPOSITORY_ROOT);
  assert.ok(top.has("src") && top.has("docs") && !top.has("node_modules"), [...top].join(" "));
  const bad = checkRepository(REPOSITORY_ROOT).map(formatBroken);
  assert.deepEqual(bad, [], `paths named in the docs that do not resolve:\n${bad.join("\n")}`);
});
