/** Listener sets: added once, called in order, changes during an emit apply next time, a throwing listener is counted. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventSet } from "./events.js";

test("on/off: a listener is added once, runs in order, and off removes it; on returns the remover", () => {
  const e = new EventSet<number>();
  const seen: string[] = [];
  const a = (n: number) => void seen.push(`a${n}`);
  const b = (n: number) => void seen.push(`b${n}`);
  e.on(a);
  e.on(a);
  const offB = e.on(b);
  assert.equal(e.size, 2);
  e.emit(1);
  offB();
  assert.equal(e.off(b), false);
  e.emit(2);
  assert.equal(e.off(a), true);
  e.emit(3);
  assert.deepEqual(seen, ["a1", "b1", "a2"]);
  assert.equal(e.size, 0);
});

test("adding or removing during an emit affects the next emit only; a listener that throws does not stop the rest", () => {
  const e = new EventSet<string>();
  const seen: string[] = [];
  const late = (s: string) => void seen.push(`late ${s}`);
  const second = (s: string) => void seen.push(`second ${s}`);
  e.on((s) => {
    seen.push(`first ${s}`);
    e.on(late);
    e.off(second);
  });
  e.on(() => {
    throw new Error("boom");
  });
  e.on(second);
  assert.doesNotThrow(() => e.emit("x"));
  e.emit("y");
  assert.deepEqual(seen, ["first x", "second x", "first y", "late y"]);
  assert.equal(e.errors, 2);
  assert.equal((e.firstError as Error).message, "boom");
});
