/**
 * Citations in source comments: every `docs/NAME.md` a comment under `src/` names must exist, with the section it
 * names; our private notes must never be cited.
 *
 * The rule (what `npm run lint` enforces over every comment of every `.ts` file under `src/`):
 * 1. `docs/NAME.md` must be a file of the repository.
 * 2. A section after it is checked against that file's Markdown headings: `docs/protocol.md#5-rpci-what-vmport-answers`
 *    (GitHub's anchor of a heading), `docs/protocol.md` §5 (a heading numbered "5." — every `§N` or `§N.M` up to the
 *    next `docs/` citation, `;` or the end of the sentence belongs to it: `docs/protocol.md` §2, §11), or
 *    `docs/architecture.md` "The v86 path" (a quoted heading text right after the path, numbering left out).
 * 3. The notes the code was first written from (`protocol.md`, `peers.md`, `real-clients.md`, `tracer-notes.md`,
 *    `style.md`) are not in the repository: a bare `protocol.md` (no `docs/` before it), or `tracer-notes` /
 *    `real-clients` at all, is rejected. Cite a file in `docs/` or an upstream repository path instead.
 * Comments are found with the TypeScript scanner's trivia rules (`ts.getLeadingCommentRanges`), so a string that
 * contains `//` or `/*` is never taken for a comment.
 *
 * Emulates: nothing; `scripts/lint.ts` runs it, `scripts/citations.test.ts` tests it.
 * Does not: check upstream paths (they are not in the repository), or citations in `docs/` itself
 * (`scripts/docs-paths.ts` does that).
 */
import ts from "typescript";
import { headingAnchors } from "./docs-paths.js";
import type { SourceFile, Violation } from "./layers.js";

/** The headings of one Markdown document, in the forms a citation may use. */
export interface DocHeadings {
  /** Section numbers: "3" for `## 3. The LB commands`, "1.1" for `### 1.1 Core`. */
  numbers: ReadonlySet<string>;
  /** Heading texts without their number: "The v86 path", "The LB commands vmport implements". */
  texts: ReadonlySet<string>;
  /** GitHub anchors of the headings: "3-the-lb-commands-vmport-implements". */
  anchors: ReadonlySet<string>;
}

/** The headings of a Markdown text (outside fenced code blocks). */
export function docHeadings(markdown: string): DocHeadings {
  const numbers = new Set<string>();
  const texts = new Set<string>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const m = fenced ? null : /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (m === null) continue;
    const heading = m[1]!;
    const num = /^(\d+(?:\.\d+)*)\.?\s+(.*)$/.exec(heading);
    if (num !== null) numbers.add(num[1]!);
    texts.add(num !== null ? num[2]! : heading);
  }
  return { numbers, texts, anchors: headingAnchors(markdown) };
}

/** One comment: its text with the comment markers and leading ` * ` removed, lines joined by spaces, and its line. */
export interface Comment {
  line: number;
  text: string;
}

/** Every comment of a TypeScript source text. */
export function commentsOf(path: string, text: string): Comment[] {
  const sf = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const seen = new Set<number>();
  const out: Comment[] = [];
  const take = (ranges: ts.CommentRange[] | undefined): void => {
    for (const r of ranges ?? []) {
      if (seen.has(r.pos)) continue;
      seen.add(r.pos);
      const raw = text.slice(r.pos, r.end);
      const body =
        r.kind === ts.SyntaxKind.SingleLineCommentTrivia
          ? raw.replace(/^\/\/+/, "")
          : raw
              .replace(/^\/\*+/, "")
              .replace(/\*+\/$/, "")
              .split("\n")
              .map((l) => l.replace(/^\s*\*?/, ""))
              .join(" ");
      out.push({ line: sf.getLineAndCharacterOfPosition(r.pos).line + 1, text: body.replace(/\s+/g, " ").trim() });
    }
  };
  const visit = (node: ts.Node): void => {
    take(ts.getLeadingCommentRanges(text, node.pos));
    take(ts.getTrailingCommentRanges(text, node.end));
    for (const child of node.getChildren(sf)) visit(child);
  };
  visit(sf);
  out.sort((a, b) => a.line - b.line);
  return out;
}

const DOC_CITATION = /(?<![\w./-])docs\/([\w.-]+\.md)(?:#([\w-]+))?`?(?:\s+"([^"]+)")?/g;
const SECTION = /§\s?(\d+(?:\.\d+)*)/g;
/** The citation's scope ends at the next citation, a `;`, or the end of a sentence. */
const SCOPE_END = /docs\/|;|\.(?:\s|$)/;
const PRIVATE_NOTE = /(?<![\w./-])(?:(?:protocol|peers|style)\.md|(?:tracer-notes|real-clients)(?:\.md)?)(?![\w-])/g;

/** The citation problems of one comment; `docs` maps `docs/NAME.md` to its headings (every existing document). */
export function checkComment(comment: string, docs: ReadonlyMap<string, DocHeadings>): string[] {
  const problems: string[] = [];
  for (const m of comment.matchAll(PRIVATE_NOTE)) {
    problems.push(`cites "${m[0]}", a private note not in the repository: cite a file in docs/ or an upstream path`);
  }
  for (const m of comment.matchAll(DOC_CITATION)) {
    const path = `docs/${m[1]!}`;
    const doc = docs.get(path);
    if (doc === undefined) {
      problems.push(`cites ${path}, which does not exist`);
      continue;
    }
    const [, , anchor, quoted] = m;
    if (anchor !== undefined && !doc.anchors.has(anchor)) problems.push(`cites ${path}#${anchor}: no such heading`);
    if (quoted !== undefined && !doc.texts.has(quoted)) problems.push(`cites ${path} "${quoted}": no such heading`);
    const rest = comment.slice(m.index + m[0].length);
    const end = SCOPE_END.exec(rest);
    const scope = end === null ? rest : rest.slice(0, end.index);
    for (const s of scope.matchAll(SECTION)) {
      if (!doc.numbers.has(s[1]!)) problems.push(`cites ${path} §${s[1]!}: no heading numbered ${s[1]!}`);
    }
  }
  return problems;
}

/** Check the comments of every file under `src/` against the documents in `docs`. */
export function checkCitations(files: readonly SourceFile[], docs: ReadonlyMap<string, DocHeadings>): Violation[] {
  const out: Violation[] = [];
  for (const f of files) {
    if (!f.path.startsWith("src/")) continue;
    for (const c of commentsOf(f.path, f.text)) {
      for (const message of checkComment(c.text, docs)) out.push({ path: `${f.path}:${c.line}`, message });
    }
  }
  return out;
}
