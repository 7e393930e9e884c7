/**
 * The namespace database: the request layouts of vmware-namespace-cmd (set-key, get-value, delete-key), the
 * serviceDiscovery plugin (extra trailing NUL, several deletions at once) and vgauthImport (several keys),
 * compare-and-set, atomic requests, and every named bound at its edge and one past it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { isVmportError } from "../core/errors.js";
import {
  NAMESPACE_MAX_KEYS,
  NAMESPACE_MAX_KEY_BYTES,
  NAMESPACE_MAX_NAMESPACES,
  NAMESPACE_MAX_NAME_BYTES,
  NAMESPACE_MAX_OPS,
  NAMESPACE_MAX_TOTAL_BYTES,
  NAMESPACE_MAX_VALUE_BYTES,
  NamespaceDb,
  NamespaceRefusal,
  type NamespaceChange,
} from "./namespace-db.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
/** NUL-terminated fields, as `DynBuf_AppendString` builds them. */
const fields = (...f: string[]): Uint8Array => enc(f.map((x) => x + "\0").join(""));
/** `vmware-namespace-cmd set-key NS -k KEY -v VALUE`: numOps 1, op "0", key, value, old value "". */
const setKey = (ns: string, key: string, value: string, old = ""): Uint8Array => fields(ns, "1", old === "" ? "0" : "1", key, value, old);
/** `vmware-namespace-cmd delete-key NS -k KEY`: an empty value. */
const deleteKey = (ns: string, key: string): Uint8Array => fields(ns, "1", "0", key, "", "");

test("vmware-namespace-cmd's set-key, get-value and delete-key layouts round-trip; absent keys read as empty", () => {
  const db = new NamespaceDb();
  assert.equal(db.setKeys(setKey("com.example", "color", "blue")), null);
  const got = db.getValues(fields("com.example", "color"));
  assert.deepEqual(got.ok && dec(got.reply), "blue\0"); // each value then a NUL; the tool prints "blue"
  assert.equal(db.setKeys(deleteKey("com.example", "color")), null);
  const after = db.getValues(fields("com.example", "color", "never-set"));
  assert.deepEqual(after.ok && [...after.reply], [0x00, 0x00]);
  assert.deepEqual(db.names(), ["com.example"]); // the namespace stays, empty
});

test("vgauthImport asks for several keys at once; the serviceDiscovery plugin deletes several with a footer NUL", () => {
  const db = new NamespaceDb();
  assert.equal(db.setKeys(fields("ns", "2", "0", "a", "1", "", "0", "b", "22", "")), null);
  const r = db.getValues(fields("ns", "b", "a", "c"));
  assert.deepEqual(r.ok && dec(r.reply), "22\0" + "1\0" + "\0");
  // DeleteData: numOps N, then N × (op "0", key, "", ""), then one more NUL.
  assert.equal(db.setKeys(enc("ns\0" + "2\0" + "0\0a\0\0\0" + "0\0b\0\0\0" + "\0")), null);
  const gone = db.getValues(fields("ns", "a", "b"));
  assert.deepEqual(gone.ok && [...gone.reply], [0, 0]);
});

test("compare-and-set (op 1) applies only when the old value matches; an absent key matches the empty string", () => {
  const db = new NamespaceDb();
  assert.equal(db.setKeys(setKey("ns", "k", "v1")), null);
  assert.equal(db.setKeys(setKey("ns", "k", "v2", "wrong")), NamespaceRefusal.MISMATCH);
  assert.equal(dec(db.get("ns", "k")!), "v1");
  assert.equal(db.setKeys(setKey("ns", "k", "v2", "v1")), null);
  assert.equal(dec(db.get("ns", "k")!), "v2");
  assert.equal(db.setKeys(fields("ns", "1", "1", "new", "x", "")), null); // absent key, old value ""
});

test("a request is applied whole or not at all; later ops see earlier ones", () => {
  const db = new NamespaceDb();
  db.setKeys(setKey("ns", "a", "1"));
  // op 1 sets b; op 2 compares a against "x" and fails: b must not be set.
  assert.equal(db.setKeys(fields("ns", "2", "0", "b", "2", "", "1", "a", "3", "x")), NamespaceRefusal.MISMATCH);
  assert.equal(db.get("ns", "b"), undefined);
  // op 2 compares b against the value op 1 just set.
  assert.equal(db.setKeys(fields("ns", "2", "0", "b", "2", "", "1", "b", "3", "2")), null);
  assert.equal(dec(db.get("ns", "b")!), "3");
});

test("malformed requests are refused by name and change nothing", () => {
  const db = new NamespaceDb();
  const cases: [Uint8Array, string][] = [
    [enc(""), NamespaceRefusal.MALFORMED],
    [enc("ns\0" + "1\0" + "0\0k\0v\0"), NamespaceRefusal.MALFORMED], // old value missing
    [enc("ns\0" + "1\0" + "0\0k\0v\0\0x"), NamespaceRefusal.MALFORMED], // last field not terminated
    [fields("ns", "2", "0", "k", "v", ""), NamespaceRefusal.MALFORMED], // numOps says 2, one op given
    [fields("ns", "1", "0", "k", "v", "", "junk"), NamespaceRefusal.MALFORMED], // trailing non-empty field
    [fields("ns", "0"), NamespaceRefusal.MALFORMED],
    [fields("ns", "x", "0", "k", "v", ""), NamespaceRefusal.MALFORMED],
    [fields("ns", String(NAMESPACE_MAX_OPS + 1)), NamespaceRefusal.MALFORMED],
    [fields("ns", "1", "2", "k", "v", ""), NamespaceRefusal.BAD_OP],
    [fields("ns", "1", "0", "", "v", ""), NamespaceRefusal.BAD_KEY],
    [fields("ns", "1", "0", "a\u0001b", "v", ""), NamespaceRefusal.BAD_KEY],
    [new Uint8Array([...enc("ns\0" + "1\0" + "0\0"), 0xff, 0x00, ...enc("v\0\0")]), NamespaceRefusal.BAD_KEY], // key not UTF-8
    [fields("", "1", "0", "k", "v", ""), NamespaceRefusal.BAD_NAME],
  ];
  for (const [req, refusal] of cases) assert.equal(db.setKeys(req), refusal, JSON.stringify(dec(req)));
  assert.deepEqual(db.names(), []);
  assert.deepEqual(db.getValues(enc("")), { ok: false, refusal: NamespaceRefusal.MALFORMED });
  assert.deepEqual(db.getValues(fields("nope", "k")), { ok: false, refusal: NamespaceRefusal.NO_NAMESPACE });
  assert.equal(db.setKeys(deleteKey("nope", "k")), null); // deleting from nothing creates nothing
  assert.deepEqual(db.names(), []);
});

test("bounds: name, key and value lengths, ops per request, keys per namespace, namespaces, total bytes", () => {
  const db = new NamespaceDb();
  assert.equal(db.setKeys(setKey("n".repeat(NAMESPACE_MAX_NAME_BYTES), "k", "v")), null);
  assert.equal(db.setKeys(setKey("n".repeat(NAMESPACE_MAX_NAME_BYTES + 1), "k", "v")), NamespaceRefusal.BAD_NAME);
  assert.equal(db.setKeys(setKey("ns", "k".repeat(NAMESPACE_MAX_KEY_BYTES), "v")), null);
  assert.equal(db.setKeys(setKey("ns", "k".repeat(NAMESPACE_MAX_KEY_BYTES + 1), "v")), NamespaceRefusal.BAD_KEY);
  assert.equal(db.setKeys(setKey("ns", "big", "v".repeat(NAMESPACE_MAX_VALUE_BYTES))), null);
  assert.equal(db.setKeys(setKey("ns", "big2", "v".repeat(NAMESPACE_MAX_VALUE_BYTES + 1))), NamespaceRefusal.VALUE_TOO_LONG);
  const ops = (n: number, from: number): string[] => Array.from({ length: n }, (_, i) => ["0", `key${from + i}`, "v", ""]).flat();
  assert.equal(db.setKeys(fields("many", String(NAMESPACE_MAX_OPS), ...ops(NAMESPACE_MAX_OPS, 0))), null);
  for (let from = NAMESPACE_MAX_OPS; from < NAMESPACE_MAX_KEYS; from += NAMESPACE_MAX_OPS) {
    assert.equal(db.setKeys(fields("many", String(NAMESPACE_MAX_OPS), ...ops(NAMESPACE_MAX_OPS, from))), null);
  }
  assert.equal(db.setKeys(setKey("many", "one-more", "v")), NamespaceRefusal.TOO_MANY_KEYS);
  assert.equal(db.setKeys(setKey("many", "key0", "replaced")), null); // an existing key at the bound
  for (let i = db.names().length; i < NAMESPACE_MAX_NAMESPACES; i++) assert.equal(db.setKeys(setKey(`ns${i}`, "k", "v")), null);
  assert.equal(db.setKeys(setKey("one-too-many", "k", "v")), NamespaceRefusal.TOO_MANY_NAMESPACES);
  // Total bytes: fill with 16 KiB values across the namespaces until the next one would pass the bound.
  const full = new NamespaceDb();
  let i = 0;
  const value = "x".repeat(NAMESPACE_MAX_VALUE_BYTES);
  while (full.totalBytes + 8 + NAMESPACE_MAX_VALUE_BYTES <= NAMESPACE_MAX_TOTAL_BYTES) {
    assert.equal(full.setKeys(setKey(`n${i % 32}`, `k${String(i).padStart(6, "0")}`, value)), null);
    i++;
  }
  assert.equal(full.setKeys(setKey("n0", `k${String(i).padStart(6, "0")}`, value)), NamespaceRefusal.FULL);
  assert.ok(full.totalBytes <= NAMESPACE_MAX_TOTAL_BYTES);
});

test("host side: set, create, entries as copies, replaceWith, change events for applied changes only", () => {
  const db = new NamespaceDb();
  const changes: NamespaceChange[] = [];
  db.changes.on((c) => changes.push(c));
  db.set("ns", "k", "v");
  db.create("empty");
  db.setKeys(setKey("ns", "k", "w", "nope")); // refused: no event
  db.setKeys(deleteKey("ns", "k"));
  assert.deepEqual(
    changes.map((c) => [c.namespace, c.key, c.value === null ? null : dec(c.value)]),
    [
      ["ns", "k", "v"],
      ["ns", "k", null],
    ],
  );
  db.set("ns", "bin", new Uint8Array([1, 2]));
  const e = db.entries();
  e[0]![1][0]![1][0] = 99;
  assert.deepEqual([...db.get("ns", "bin")!], [1, 2]);
  const copy = new NamespaceDb();
  copy.replaceWith(db);
  assert.deepEqual(copy.entries(), db.entries());
  assert.equal(copy.totalBytes, db.totalBytes);
  assert.throws(
    () => db.set("ns", "", "v"),
    (x: unknown) => isVmportError(x) && x.code === "VMPORT_BAD_ARGUMENT" && /Invalid key/.test(x.message),
  );
  assert.throws(
    () => db.create(""),
    (x: unknown) => isVmportError(x) && x.code === "VMPORT_BAD_ARGUMENT",
  );
});

test("saveState / restoreState: plain entries; bounds as for a guest write; a bad entry is refused by name, nothing applied", () => {
  const a = new NamespaceDb();
  a.set("ns", "k", "v");
  a.create("empty");
  const saved = a.saveState();
  assert.deepEqual(saved, [
    ["ns", [["k", new TextEncoder().encode("v")]]],
    ["empty", []],
  ]);
  const b = new NamespaceDb();
  b.set("old", "k", "v");
  const gen = b.generation;
  b.restoreState(saved);
  assert.deepEqual(b.saveState(), saved);
  assert.ok(b.generation > gen, "a restore is a change");
  const cases: [unknown, string][] = [
    [{}, "namespaces"],
    [[["ns"]], "namespaces"],
    [[["", []]], 'namespaces[""]'],
    [[["ns", [["k", "text"]]]], 'namespaces["ns"]["k"]'],
    [[["ns", [["k", new Uint8Array(0)]]]], 'namespaces["ns"]["k"]'],
    [[["ns", [["k", new Uint8Array(NAMESPACE_MAX_VALUE_BYTES + 1)]]]], 'namespaces["ns"]["k"]'],
  ];
  for (const [v, field] of cases) {
    assert.throws(
      () => b.restoreState(v),
      (e: unknown) => isVmportError(e) && e.code === "VMPORT_BAD_STATE" && e.message.includes(`"${field}"`),
      field,
    );
    assert.deepEqual(b.saveState(), saved, `nothing applied after refusing ${field}`);
  }
});
