/**
 * Which repository paths a Markdown document names, and which of them do not exist.
 *
 * The rule (what counts as a path of *this* repository):
 * 1. A Markdown link target (`[text](target)`, `![alt](target)`, `[ref]: target`) without a URL scheme is a repository
 *    path relative to the document's own directory, as GitHub resolves it: from `docs/architecture.md`,
 *    `(protocol.md#rpci)` is `docs/protocol.md` and `(../README.md)` is `README.md`. A `#fragment` after a Markdown
 *    file (or alone, for the same file) must match one of its headings (GitHub's anchor for it). A target that
 *    leaves the repository is broken.
 * 2. Anywhere else in the text — prose, inline code, fenced blocks — a token made of path characters
 *    (`A–Z a–z 0–9 _ . - / * + @`) that contains a `/` is a repository path relative to the repository root exactly
 *    when its first segment is a top-level entry of the repository (`src`, `docs`, `bench`, `scripts`, `examples`,
 *    `.ci`, `README.md`, …: the names in the root directory except {@link NOT_IN_REPOSITORY}). A leading `./` is
 *    dropped; a trailing `/` names a directory; `*` matches within one segment and `**` any number of segments, and a
 *    pattern must match at least one entry.
 * Everything else is not ours and is not checked: absolute paths (`/usr/lib/imvirt/vmware`), `~/.cache/…`, URLs,
 * paths relative to `src/` written without it (`vm/persistence.ts`), and upstream paths, which the docs write from
 * their project's root with the project or a directory of it first (`open-vm-tools/lib/rpcIn/rpcin.c`,
 * `lib/message/message.c`, `hw/i386/vmport.c`, `arch/x86/kvm/x86.c`, `v86/src/vmware.js`). So an upstream path must
 * never start with one of our top-level names: write v86's `src/vmware.js` as `v86/src/vmware.js`.
 * Generated and ignored entries (`dist/`, `node_modules/`) are not part of the repository, so paths under them are
 * not checked either.
 *
 * Emulates: nothing; `scripts/docs-paths.test.ts` runs it over `README.md` and `docs/*.md` in `npm test`.
 * Does not: check paths inside source files (module headers), or that a named function exists in a file.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, posix } from "node:path";

/** Root-directory names that are not part of the repository: VCS data, installed and generated output. */
export const NOT_IN_REPOSITORY: ReadonlySet<string> = new Set([".git", "node_modules", "dist", "scratch"]);

/** One path a document names. */
export interface NamedPath {
  /** 1-based line of the document. */
  line: number;
  /** The path as written (a link target with its fragment). */
  text: string;
  /** Repository-relative path (POSIX separators, no leading `./`), or null when the target leaves the repository. */
  path: string | null;
  /** `#fragment` of a link, without the `#`, or null. */
  fragment: string | null;
  /** How it was found. */
  kind: "link" | "token";
}

/** A path that does not resolve. */
export interface BrokenPath {
  /** Document, repository-relative. */
  doc: string;
  line: number;
  text: string;
  reason: string;
}

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
/** Inline links and images: `[text](target)` / `[text](target "title")`; `<target>` form included. */
const INLINE_LINK = /!?\[(?:[^\][]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^\s)]*)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g;
/** Reference definitions: `[ref]: target` at the start of a line. */
const REFERENCE_DEF = /^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/;
/** Path characters; everything else separates tokens. */
const TOKEN = /[A-Za-z0-9_.\-/*+@]+/g;

/** Top-level entries of the repository at `root`. */
export function topLevelEntries(root: string): Set<string> {
  return new Set(readdirSync(root).filter((n) => !NOT_IN_REPOSITORY.has(n)));
}

/** Every repository path `text` (the document `doc`, repository-relative) names, by the rule in the module comment. */
export function namedPaths(doc: string, text: string, topLevel: ReadonlySet<string>): NamedPath[] {
  const out: NamedPath[] = [];
  const docDir = posix.dirname(doc);
  text.split("\n").forEach((lineText, i) => {
    const line = i + 1;
    let rest = lineText;
    const link = (target: string): void => {
      const t = target.startsWith("<") && target.endsWith(">") ? target.slice(1, -1) : target;
      if (t === "" || SCHEME.test(t) || t.startsWith("//")) return;
      const hash = t.indexOf("#");
      const file = hash < 0 ? t : t.slice(0, hash);
      const fragment = hash < 0 ? null : decodeURIComponent(t.slice(hash + 1));
      const joined = file === "" ? doc : posix.normalize(posix.join(docDir, decodeURIComponent(file)));
      const path = joined === ".." || joined.startsWith("../") || joined.startsWith("/") ? null : joined.replace(/\/$/, "");
      out.push({ line, text: t, path, fragment, kind: "link" });
    };
    const def = REFERENCE_DEF.exec(rest);
    if (def) {
      link(def[1]!);
      rest = rest.slice(def[0].length);
    }
    rest = rest.replace(INLINE_LINK, (whole, target: string) => {
      link(target);
      // Keep the link text (it may name paths too), drop the target (resolved above, relative to the document).
      return whole.slice(0, whole.lastIndexOf("]("));
    });
    for (const m of rest.matchAll(TOKEN)) {
      const raw = m[0].replace(/\.+$/, ""); // a sentence's full stop is not part of a path
      const tok = raw.replace(/^(\.\/)+/, "");
      const first = tok.split("/")[0]!;
      if (!tok.includes("/") || !topLevel.has(first)) continue;
      out.push({ line, text: raw, path: tok.replace(/\/+$/, ""), fragment: null, kind: "token" });
    }
  });
  return out;
}

/** Does `pattern` (segments, `*` within a segment, `**` any depth) match at least one entry under `root`? */
export function globExists(root: string, pattern: string): boolean {
  const segs = pattern.split("/").filter((s) => s !== "");
  const walk = (dir: string, i: number): boolean => {
    if (i === segs.length) return true;
    const seg = segs[i]!;
    if (seg === "**") {
      if (walk(dir, i + 1)) return true;
      return entries(dir).some((n) => isDir(join(dir, n)) && walk(join(dir, n), i));
    }
    if (!seg.includes("*")) {
      const p = join(dir, seg);
      return existsSync(p) && (i === segs.length - 1 || isDir(p)) && walk(p, i + 1);
    }
    const re = new RegExp(
      "^" +
        seg
          .split("*")
          .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
          .join("[^/]*") +
        "$",
    );
    return entries(dir).some((n) => re.test(n) && (i === segs.length - 1 || isDir(join(dir, n))) && walk(join(dir, n), i + 1));
  };
  return walk(root, 0);
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => !NOT_IN_REPOSITORY.has(n));
  } catch {
    return [];
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * GitHub's anchor for a heading: lower case; inline-code backticks, punctuation and symbols removed (letters,
 * digits, `_`, `-` and spaces kept); each space becomes `-`. Repeated headings get `-1`, `-2`, … (see
 * {@link headingAnchors}).
 */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/[^\p{L}\p{N}\p{M}_\- ]/gu, "")
    .replace(/ /g, "-");
}

/** Every anchor a Markdown text's ATX headings (`#` … `######`) define, outside fenced blocks. */
export function headingAnchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fence: string | null = null;
  for (const line of text.split("\n")) {
    const f = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (f) {
      if (fence === null) fence = f[1]![0]!;
      else if (f[1]![0] === fence) fence = null;
      continue;
    }
    if (fence !== null) continue;
    const h = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const base = headingAnchor(h[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Check every path the document `doc` (repository-relative) names against the repository at `root`. */
export function checkDocument(
  root: string,
  doc: string,
  text: string,
  topLevel: ReadonlySet<string> = topLevelEntries(root),
): BrokenPath[] {
  const broken: BrokenPath[] = [];
  for (const p of namedPaths(doc, text, topLevel)) {
    const bad = (reason: string) => broken.push({ doc, line: p.line, text: p.text, reason });
    if (p.path === null) {
      bad("leaves the repository");
      continue;
    }
    if (p.kind === "link" && NOT_IN_REPOSITORY.has(p.path.split("/")[0]!)) {
      bad("points into generated or ignored files");
      continue;
    }
    if (p.path !== doc && !globExists(root, p.path)) {
      bad(p.path.includes("*") ? "matches no file" : "does not exist");
      continue;
    }
    if (p.fragment !== null && p.path.endsWith(".md") && (p.path === doc || !isDir(join(root, p.path)))) {
      const target = p.path === doc ? text : readFileSync(join(root, p.path), "utf8");
      if (!headingAnchors(target).has(p.fragment.toLowerCase())) bad(`has no heading with the anchor #${p.fragment}`);
    }
  }
  return broken;
}

/** `README.md` and every `docs/*.md` of the repository at `root`, repository-relative. */
export function documentsToCheck(root: string): string[] {
  const docs = existsSync(join(root, "docs"))
    ? readdirSync(join(root, "docs"))
        .filter((n) => n.endsWith(".md"))
        .sort()
    : [];
  return ["README.md", ...docs.map((n) => `docs/${n}`)];
}

/** Check `README.md` and `docs/*.md`. */
export function checkRepository(root: string): BrokenPath[] {
  const top = topLevelEntries(root);
  return documentsToCheck(root).flatMap((doc) => checkDocument(root, doc, readFileSync(join(root, doc), "utf8"), top));
}

/** One line per broken path: `docs/x.md:12: \`src/y.ts\` does not exist`. */
export function formatBroken(b: BrokenPath): string {
  return `${b.doc}:${b.line}: \`${b.text}\` ${b.reason}`;
}

/** The repository root of this checkout. */
export const REPOSITORY_ROOT = dirname(import.meta.dirname);
