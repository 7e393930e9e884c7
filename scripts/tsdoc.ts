/**
 * Exported API without TSDoc: every exported declaration of a module under `src/` (functions, classes, interfaces,
 * type aliases, enums, variables) must carry a `/** … *\/` comment, and so must every public member of an exported
 * class (methods, properties, accessors — a constructor is documented by its class) and every member of an exported interface.
 * A class member that implements a documented member of an interface the class `implements` (by name, from any
 * module) inherits that comment, as TypeDoc shows it.
 *
 * Emulates: nothing; `scripts/lint.ts` runs it over `src/` (test files excepted), `scripts/tsdoc.test.ts` tests it.
 * Source of truth: TSDoc (a doc comment is the `/**` comment right before a declaration); the TypeScript compiler
 * API finds them (`ts.getJSDocCommentsAndTags`).
 * Does not: judge what a comment says, require docs on the members of an exported object literal or type literal,
 * or on overloads after the first signature.
 */
import ts from "typescript";
import type { SourceFile, Violation } from "./layers.js";

/** One declaration that should be documented and is not. */
export interface Undocumented {
  /** 1-based line of the declaration. */
  line: number;
  /** `name` or `Class.member`. */
  name: string;
}

function hasDoc(node: ts.Node): boolean {
  return ts.getJSDocCommentsAndTags(node).some((d) => ts.isJSDoc(d) && (d.comment !== undefined || (d.tags?.length ?? 0) > 0));
}

function isExported(node: ts.Node): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
}

function isPublic(member: ts.ClassElement): boolean {
  if (member.name !== undefined && ts.isPrivateIdentifier(member.name)) return false;
  const mods = ts.canHaveModifiers(member) ? (ts.getModifiers(member) ?? []) : [];
  return !mods.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword);
}

function nameOf(node: ts.NamedDeclaration, sf: ts.SourceFile): string {
  return node.name !== undefined ? node.name.getText(sf) : "(anonymous)";
}

/** Documented members of interfaces, by interface name. */
export type InterfaceDocs = ReadonlyMap<string, ReadonlySet<string>>;

function parse(path: string, text: string): ts.SourceFile {
  return ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
}

/** The documented members of every interface declared in `text`, by interface name. */
export function interfaceDocs(path: string, text: string): Map<string, Set<string>> {
  const sf = parse(path, text);
  const out = new Map<string, Set<string>>();
  for (const st of sf.statements) {
    if (!ts.isInterfaceDeclaration(st)) continue;
    const members = out.get(st.name.text) ?? new Set<string>();
    for (const m of st.members) if (m.name !== undefined && hasDoc(m)) members.add(m.name.getText(sf));
    out.set(st.name.text, members);
  }
  return out;
}

function implemented(cls: ts.ClassDeclaration, inherited: InterfaceDocs): Set<string> {
  const out = new Set<string>();
  for (const clause of cls.heritageClauses ?? []) {
    if (clause.token !== ts.SyntaxKind.ImplementsKeyword) continue;
    for (const t of clause.types) {
      const name = ts.isIdentifier(t.expression)
        ? t.expression.text
        : ts.isPropertyAccessExpression(t.expression)
          ? t.expression.name.text
          : "";
      for (const m of inherited.get(name) ?? []) out.add(m);
    }
  }
  return out;
}

/**
 * The undocumented exported declarations and members of one TypeScript source text; `inherited` holds the
 * documented members of the interfaces its classes may implement.
 */
export function undocumentedExports(path: string, text: string, inherited: InterfaceDocs = new Map()): Undocumented[] {
  const sf = parse(path, text);
  const out: Undocumented[] = [];
  const report = (node: ts.Node, name: string): void => {
    out.push({ line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, name });
  };
  const seenOverloads = new Set<string>();
  const check = (node: ts.Node, name: string): void => {
    if (!hasDoc(node)) report(node, name);
  };
  for (const st of sf.statements) {
    if (!isExported(st)) continue;
    if (ts.isVariableStatement(st)) {
      if (!hasDoc(st)) for (const d of st.declarationList.declarations) report(d, d.name.getText(sf));
    } else if (ts.isFunctionDeclaration(st)) {
      const name = nameOf(st, sf);
      if (seenOverloads.has(name)) continue;
      seenOverloads.add(name);
      check(st, name);
    } else if (ts.isClassDeclaration(st)) {
      const cls = nameOf(st, sf);
      check(st, cls);
      const seen = implemented(st, inherited);
      for (const m of st.members) {
        if (!isPublic(m) || ts.isSemicolonClassElement(m) || ts.isClassStaticBlockDeclaration(m) || ts.isIndexSignatureDeclaration(m))
          continue;
        if (ts.isConstructorDeclaration(m)) continue;
        const name = nameOf(m, sf);
        if (seen.has(name)) continue; // an overload, or a get/set pair: one comment documents both
        seen.add(name);
        check(m, `${cls}.${name}`);
      }
    } else if (ts.isInterfaceDeclaration(st)) {
      const itf = nameOf(st, sf);
      check(st, itf);
      const seen = new Set<string>();
      for (const m of st.members) {
        if (ts.isIndexSignatureDeclaration(m) || ts.isCallSignatureDeclaration(m) || ts.isConstructSignatureDeclaration(m)) continue;
        const name = nameOf(m, sf);
        if (seen.has(name)) continue;
        seen.add(name);
        check(m, `${itf}.${name}`);
      }
    } else if (ts.isTypeAliasDeclaration(st) || ts.isEnumDeclaration(st) || ts.isModuleDeclaration(st)) {
      check(st, nameOf(st, sf));
    }
  }
  return out;
}

/** Check every non-test module under `src/`. */
export function checkTsdoc(files: readonly SourceFile[]): Violation[] {
  const modules = files.filter((f) => f.path.startsWith("src/") && !f.path.endsWith(".test.ts"));
  const inherited = new Map<string, Set<string>>();
  for (const f of modules) {
    for (const [name, members] of interfaceDocs(f.path, f.text)) inherited.set(name, new Set([...(inherited.get(name) ?? []), ...members]));
  }
  const out: Violation[] = [];
  for (const f of modules) {
    for (const u of undocumentedExports(f.path, f.text, inherited))
      out.push({ path: `${f.path}:${u.line}`, message: `exported ${u.name} has no TSDoc comment` });
  }
  return out;
}
