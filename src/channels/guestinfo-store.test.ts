/**
 * The guestinfo store: case-insensitive keys that keep their first spelling, every bound at its limit and one
 * past it, the refusal codes and RPCI texts, host `set` (optional prefix, VMPORT_GUESTINFO_LIMIT), `delete`,
 * byte accounting and change events.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { isVmportError } from "../core/errors.js";
import {
  GUESTINFO_MAX_KEYS,
  GUESTINFO_MAX_KEY_BYTES,
  GUESTINFO_MAX_TOTAL_BYTES,
  GUESTINFO_MAX_VALUE_BYTES,
  GUESTINFO_PREFIX,
  GUESTINFO_REFUSALS,
  GuestinfoStore,
  type GuestinfoChange,
} from "./guestinfo-store.js";

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));

/** A key of exactly `n` UTF-8 bytes, `guestinfo.` included. */
const keyOfBytes = (n: number, fill = "k"): string => GUESTINFO_PREFIX + fill.repeat(n - GUESTINFO_PREFIX.length);

/** A store with every change recorded. */
function recorded(): { s: GuestinfoStore; changes: GuestinfoChange[] } {
  const s = new GuestinfoStore();
  const changes: GuestinfoChange[] = [];
  s.changes.on((c) => changes.push({ ...c, value: c.value === null ? null : c.value.slice() }));
  return { s, changes };
}

test("keys are case-insensitive and keep the spelling first set", () => {
  const { s, changes } = recorded();
  assert.equal(s.trySet("GuestInfo.SVGA.gl3", bytes("1")), null);
  assert.equal(s.trySet("guestinfo.svga.GL3", bytes("0")), null);
  assert.equal(s.size, 1);
  assert.equal(s.getText("GUESTINFO.SVGA.GL3"), "0");
  assert.deepEqual(
    s.entries().map(([k, v]) => [k, text(v)]),
    [["GuestInfo.SVGA.gl3", "0"]],
  );
  assert.deepEqual(
    changes.map((c) => c.key),
    ["GuestInfo.SVGA.gl3", "GuestInfo.SVGA.gl3"],
  );
  assert.equal(s.get("guestinfo.other"), undefined);
  assert.equal(s.getText("guestinfo.other"), undefined);
});

test("values are bytes, copied on set, and may be binary", () => {
  const s = new GuestinfoStore();
  const v = new Uint8Array([0x00, 0xff, 0x80]);
  s.trySet("guestinfo.bin", v);
  v[0] = 0x41;
  assert.deepEqual([...s.get("guestinfo.bin")!], [0x00, 0xff, 0x80]);
  assert.equal(s.getText("guestinfo.bin"), "\u0000\ufffd\ufffd");
});

test("only guestinfo.* keys: other names, the bare prefix and an empty key are refused", () => {
  const s = new GuestinfoStore();
  for (const k of ["foo.bar", "guestinfo.", "guestinfo", "", "xguestinfo.a", "guestinfo-a"]) {
    assert.equal(s.check(k, bytes("v")), "not-guestinfo", JSON.stringify(k));
    assert.equal(s.trySet(k, bytes("v")), "not-guestinfo", JSON.stringify(k));
  }
  assert.equal(s.size, 0);
  assert.equal(s.bytes, 0);
  assert.equal(GUESTINFO_REFUSALS["not-guestinfo"], "Invalid key");
});

test("key length: GUESTINFO_MAX_KEY_BYTES bytes accepted, one more refused; counted in UTF-8 bytes", () => {
  const s = new GuestinfoStore();
  assert.equal(s.trySet(keyOfBytes(GUESTINFO_MAX_KEY_BYTES), bytes("v")), null);
  assert.equal(s.trySet(keyOfBytes(GUESTINFO_MAX_KEY_BYTES + 1), bytes("v")), "key-too-long");
  // "é" is 2 bytes: 10 + 2 × 123 = 256 bytes in 133 characters, then 257 bytes in 134.
  const accented = GUESTINFO_PREFIX + "é".repeat((GUESTINFO_MAX_KEY_BYTES - GUESTINFO_PREFIX.length) / 2);
  assert.equal(s.trySet(accented, bytes("v")), null);
  assert.equal(s.trySet(accented + "a", bytes("v")), "key-too-long");
  assert.equal(s.size, 2);
  assert.equal(GUESTINFO_REFUSALS["key-too-long"], "Key is too long");
});

test("value length: GUESTINFO_MAX_VALUE_BYTES accepted, one more refused, the old value kept", () => {
  const s = new GuestinfoStore();
  assert.equal(s.trySet("guestinfo.userdata", new Uint8Array(GUESTINFO_MAX_VALUE_BYTES).fill(0x41)), null);
  assert.equal(s.get("guestinfo.userdata")!.length, GUESTINFO_MAX_VALUE_BYTES);
  assert.equal(s.trySet("guestinfo.userdata", new Uint8Array(GUESTINFO_MAX_VALUE_BYTES + 1)), "value-too-long");
  assert.equal(s.get("guestinfo.userdata")![0], 0x41);
  assert.equal(s.get("guestinfo.userdata")!.length, GUESTINFO_MAX_VALUE_BYTES);
  assert.equal(GUESTINFO_REFUSALS["value-too-long"], "Value too long");
});

test("key count: GUESTINFO_MAX_KEYS keys held, a new one refused, existing ones still updated and deletable", () => {
  const s = new GuestinfoStore();
  for (let i = 0; i < GUESTINFO_MAX_KEYS; i++) assert.equal(s.trySet(`guestinfo.k${i}`, bytes("v")), null);
  assert.equal(s.size, GUESTINFO_MAX_KEYS);
  assert.equal(s.trySet("guestinfo.one-more", bytes("v")), "too-many-keys");
  assert.equal(s.check("guestinfo.one-more", new Uint8Array(0)), "too-many-keys");
  assert.equal(s.trySet("GUESTINFO.K0", bytes("updated")), null);
  assert.equal(s.getText("guestinfo.k0"), "updated");
  assert.equal(s.size, GUESTINFO_MAX_KEYS);
  assert.equal(s.delete("guestinfo.k1"), true);
  assert.equal(s.trySet("guestinfo.one-more", bytes("v")), null);
  assert.equal(GUESTINFO_REFUSALS["too-many-keys"], "Too many keys");
});

test("total bytes: exactly GUESTINFO_MAX_TOTAL_BYTES held, one byte more refused; shrinking is allowed", () => {
  const s = new GuestinfoStore();
  const key = (i: number): string => `guestinfo.k${String(i).padStart(3, "0")}`; // 14 bytes each
  const per = key(0).length + GUESTINFO_MAX_VALUE_BYTES;
  const full = Math.floor(GUESTINFO_MAX_TOTAL_BYTES / per);
  for (let i = 0; i < full; i++) assert.equal(s.trySet(key(i), new Uint8Array(GUESTINFO_MAX_VALUE_BYTES)), null);
  const rest = GUESTINFO_MAX_TOTAL_BYTES - s.bytes - key(full).length;
  assert.ok(rest > 0 && rest < GUESTINFO_MAX_VALUE_BYTES);
  assert.equal(s.trySet(key(full), new Uint8Array(rest + 1)), "store-full");
  assert.equal(s.trySet(key(full), new Uint8Array(rest)), null);
  assert.equal(s.bytes, GUESTINFO_MAX_TOTAL_BYTES);
  // Full: a new key (even with an empty value) and one more byte in an existing value are refused.
  assert.equal(s.trySet("guestinfo.x", new Uint8Array(0)), "store-full");
  assert.equal(s.trySet(key(full), new Uint8Array(rest + 1)), "store-full");
  // Replacing a value with one of the same size, or shrinking it, still works.
  assert.equal(s.trySet(key(0), new Uint8Array(GUESTINFO_MAX_VALUE_BYTES).fill(1)), null);
  assert.equal(s.trySet(key(0), new Uint8Array(GUESTINFO_MAX_VALUE_BYTES - 1)), null);
  assert.equal(s.bytes, GUESTINFO_MAX_TOTAL_BYTES - 1);
  assert.equal(s.trySet("guestinfo.x", new Uint8Array(0)), "store-full"); // the 11-byte key does not fit in 1 byte
  assert.equal(GUESTINFO_REFUSALS["store-full"], "Too much guestinfo data");
});

test("bytes counts UTF-8 key bytes (first spelling) plus value bytes, through updates and deletes", () => {
  const s = new GuestinfoStore();
  s.trySet("guestinfo.ké", bytes("abc")); // 13 key bytes ("é" is 2) + 3
  assert.equal(s.bytes, 16);
  s.trySet("GUESTINFO.Ké", bytes("abcdef")); // same key (ASCII case folded): value grows by 3
  assert.equal(s.bytes, 19);
  s.trySet("guestinfo.b", new Uint8Array(0)); // 11 + 0
  assert.equal(s.bytes, 30);
  assert.equal(s.delete("guestinfo.Ké"), true);
  assert.equal(s.bytes, 11);
  s.clear();
  assert.equal(s.bytes, 0);
  assert.equal(s.size, 0);
});

test("host set: prefix optional, strings as UTF-8, events say host; trySet says guest by default", () => {
  const { s, changes } = recorded();
  s.set("ip", "192.0.2.2");
  s.set("GuestInfo.Name", "é");
  s.set("bin", new Uint8Array([0xff]));
  s.trySet("guestinfo.fromGuest", bytes("g"));
  assert.deepEqual(
    s.entries().map(([k]) => k),
    ["guestinfo.ip", "GuestInfo.Name", "guestinfo.bin", "guestinfo.fromGuest"],
  );
  assert.deepEqual([...s.get("guestinfo.name")!], [0xc3, 0xa9]);
  assert.deepEqual(
    changes.map((c) => [c.key, c.by]),
    [
      ["guestinfo.ip", "host"],
      ["GuestInfo.Name", "host"],
      ["guestinfo.bin", "host"],
      ["guestinfo.fromGuest", "guest"],
    ],
  );
  assert.equal(text(changes[0]!.value!), "192.0.2.2");
});

test("host set beyond a bound throws VMPORT_GUESTINFO_LIMIT naming the key and the bound, storing nothing", () => {
  const { s, changes } = recorded();
  const cases: [string, string | Uint8Array, string][] = [
    ["k".repeat(GUESTINFO_MAX_KEY_BYTES - GUESTINFO_PREFIX.length + 1), "v", GUESTINFO_REFUSALS["key-too-long"]],
    ["big", new Uint8Array(GUESTINFO_MAX_VALUE_BYTES + 1), GUESTINFO_REFUSALS["value-too-long"]],
  ];
  for (const [k, v, why] of cases) {
    assert.throws(
      () => s.set(k, v),
      (e: unknown) =>
        isVmportError(e) && e.code === "VMPORT_GUESTINFO_LIMIT" && e.message.includes(`guestinfo.${k}`) && e.message.includes(why),
    );
  }
  assert.equal(s.size, 0);
  assert.equal(changes.length, 0);
  // The bare prefix becomes "guestinfo.guestinfo." — a valid key, not a refusal.
  s.set("guestinfo.", "x");
  assert.equal(s.getText("guestinfo.guestinfo."), "x");
});

test("host set refuses a new key when GUESTINFO_MAX_KEYS are held", () => {
  const s = new GuestinfoStore();
  for (let i = 0; i < GUESTINFO_MAX_KEYS; i++) s.set(`k${i}`, "");
  assert.throws(
    () => s.set("one-more", ""),
    (e: unknown) => isVmportError(e) && e.code === "VMPORT_GUESTINFO_LIMIT" && e.message.includes("Too many keys"),
  );
  s.set("k5", "still fine");
  assert.equal(s.getText("guestinfo.k5"), "still fine");
});

test("delete: with or without prefix, any case; reports whether the key existed; emits a host null change", () => {
  const { s, changes } = recorded();
  s.set("Ip", "192.0.2.2");
  changes.length = 0;
  assert.equal(s.delete("IP"), true);
  assert.equal(s.delete("guestinfo.ip"), false);
  assert.equal(s.get("guestinfo.ip"), undefined);
  assert.deepEqual(changes, [{ key: "guestinfo.Ip", value: null, by: "host" }]);
  s.set("a", "1");
  assert.equal(s.delete("GUESTINFO.A"), true);
  assert.equal(s.size, 0);
  assert.equal(s.bytes, 0);
});

test("refused sets and clear emit nothing; a set emits after the value is readable", () => {
  const s = new GuestinfoStore();
  const seen: (string | undefined)[] = [];
  s.changes.on((c) => seen.push(s.getText(c.key)));
  s.trySet("guestinfo.a", bytes("1"));
  s.trySet("other.a", bytes("1"));
  s.trySet("guestinfo.b", new Uint8Array(GUESTINFO_MAX_VALUE_BYTES + 1));
  s.clear();
  assert.deepEqual(seen, ["1"]);
  assert.equal(s.size, 0);
});

test("case folding is ASCII only: the Kelvin sign is not 'k'", () => {
  const s = new GuestinfoStore();
  assert.equal(s.trySet("guestinfo.k", Uint8Array.of(1)), null);
  assert.equal(s.trySet("guestinfo.\u212A", Uint8Array.of(2)), null);
  assert.equal(s.size, 2);
  assert.deepEqual([...s.get("GUESTINFO.K")!], [1]);
});

test("saveState / restoreState: plain entries, first spellings kept; a bad entry is refused by name, nothing applied", () => {
  const a = new GuestinfoStore();
  a.set("GuestInfo.Mixed", "1");
  a.set("bin", new Uint8Array([0, 0xff]));
  const saved = a.saveState();
  assert.deepEqual(saved, [
    ["GuestInfo.Mixed", new TextEncoder().encode("1")],
    ["guestinfo.bin", new Uint8Array([0, 0xff])],
  ]);
  const b = new GuestinfoStore();
  b.set("stale", "x");
  const events: string[] = [];
  b.changes.on((c) => events.push(`${c.key}=${c.value === null ? "deleted" : c.value.length}`));
  b.restoreState(saved);
  assert.deepEqual(b.saveState(), saved);
  assert.deepEqual(events, ["guestinfo.stale=deleted", "GuestInfo.Mixed=1", "guestinfo.bin=2"]);
  const cases: [unknown, string][] = [
    [{}, "guestinfo"],
    [[["guestinfo.k"]], "guestinfo"],
    [[["guestinfo.k", "text"]], 'guestinfo["guestinfo.k"]'],
    [[["other.k", new Uint8Array(1)]], 'guestinfo["other.k"]'],
    [
      [
        ["guestinfo.ok", new Uint8Array(1)],
        ["guestinfo.big", new Uint8Array(GUESTINFO_MAX_VALUE_BYTES + 1)],
      ],
      'guestinfo["guestinfo.big"]',
    ],
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

test("one key rule: normalizeKey lowercases ASCII only; withPrefix adds the prefix unless any spelling of it is there", () => {
  assert.equal(GuestinfoStore.normalizeKey("GuestInfo.IP"), "guestinfo.ip");
  assert.equal(GuestinfoStore.normalizeKey("guestinfo.\u212a"), "guestinfo.\u212a"); // the Kelvin sign is not "k"
  assert.equal(GuestinfoStore.withPrefix("GUESTINFO.x"), "GUESTINFO.x");
  assert.equal(GuestinfoStore.withPrefix("x"), "guestinfo.x");
});
