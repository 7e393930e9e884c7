/**
 * Fuzz of the control socket: 10 000 malformed or random control messages (fast-check) from several clients at
 * once against a live session — random bytes, random JSON, QMP-shaped objects with random members and argument
 * values, and valid commands with random arguments. Every line gets exactly one reply (a `return` or an `error`),
 * in order; afterwards the server still serves a new client, the guest still reads what the host sets, and the
 * main thread's heap has not grown beyond a named margin.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createConnection, type Socket } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import fc from "fast-check";
import { start } from "./session.js";
import { ControlServer, prepareControlPath } from "./control-server.js";
import { QmpClient } from "./qmp-client.js";
import { Script, scriptedGuest, scriptedSkip as skip } from "../test-support/scripted-guest.js";

/** Messages in all. */
const MESSAGES = 10_000;
/** Clients sending at once. */
const CLIENTS = 5;
/** Growth of the main thread's heap (after full collections) that counts as a leak. */
const HEAP_MARGIN_MB = 32;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const COMMANDS = [
  "query-version",
  "query-status",
  "query-guest",
  "query-profile",
  "query-counters",
  "guestinfo-get",
  "guestinfo-set",
  "guestinfo-delete",
  "guestinfo-list",
  "tclo-send",
  "mouse-event",
  "clipboard-get",
  "clipboard-set",
  "device-list",
  "device-set",
  "subscribe",
  "qmp_capabilities",
];
const ARG_NAMES = ["key", "value", "command", "timeout-ms", "x", "y", "buttons", "wheel", "text", "name", "connected", "events", "enable"];
const noNewline = (s: string) => s.replace(/\n/g, " ");

/** One request line (no newline inside; never blank). */
const line: fc.Arbitrary<string> = fc
  .oneof(
    // Random text and bytes.
    { weight: 2, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 200 }).map(noNewline) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => noNewline(Buffer.from(b).toString("latin1"))) },
    // Random JSON.
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
    // QMP-shaped objects with random members, names and values.
    {
      weight: 3,
      arbitrary: fc
        .record(
          {
            execute: fc.oneof(fc.constantFrom(...COMMANDS), fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 1 })),
            arguments: fc.oneof(
              fc.dictionary(fc.oneof(fc.constantFrom(...ARG_NAMES), fc.string({ maxLength: 8 })), fc.jsonValue({ maxDepth: 2 }), {
                maxKeys: 4,
              }),
              fc.jsonValue({ maxDepth: 1 }),
            ),
            id: fc.jsonValue({ maxDepth: 2 }),
            other: fc.jsonValue({ maxDepth: 1 }),
          },
          { requiredKeys: [] },
        )
        .map((o) => JSON.stringify(o)),
    },
    // Valid commands with random (mostly valid) arguments.
    {
      weight: 4,
      arbitrary: fc
        .oneof(
          fc.record({
            execute: fc.constant("guestinfo-set"),
            arguments: fc.record({ key: fc.string({ minLength: 1, maxLength: 300 }), value: fc.string({ maxLength: 300 }) }),
          }),
          fc.record({
            execute: fc.constantFrom("guestinfo-get", "guestinfo-delete"),
            arguments: fc.record({ key: fc.string({ maxLength: 300 }) }),
          }),
          fc.record({
            execute: fc.constant("tclo-send"),
            arguments: fc.record({ command: fc.string({ maxLength: 100 }), "timeout-ms": fc.integer({ min: -5, max: 20 }) }),
          }),
          fc.record({
            execute: fc.constant("mouse-event"),
            arguments: fc.record({ x: fc.integer(), y: fc.integer(), buttons: fc.integer(), wheel: fc.integer() }),
          }),
          fc.record({ execute: fc.constant("clipboard-set"), arguments: fc.record({ text: fc.option(fc.string({ maxLength: 200 })) }) }),
          fc.record({
            execute: fc.constant("device-set"),
            arguments: fc.record({ name: fc.constantFrom("cdrom0", "zip", ""), connected: fc.boolean() }),
          }),
          fc.record({
            execute: fc.constant("subscribe"),
            arguments: fc.record({ events: fc.array(fc.constantFrom("BACKDOOR_CALL", "GUEST_LOG", "NOPE"), { maxLength: 3 }) }),
          }),
          fc.record({
            execute: fc.constantFrom(
              "query-status",
              "query-guest",
              "guestinfo-list",
              "device-list",
              "clipboard-get",
              "query-counters",
              "query-version",
              "query-profile",
            ),
          }),
        )
        .chain((o) => fc.jsonValue({ maxDepth: 1 }).map((id) => JSON.stringify({ ...o, id }))),
    },
  )
  .filter((l) => l.trim() !== "");

/** Send `lines` on a new negotiated connection; resolves with the replies (events skipped), one per line. */
function exchange(path: string, lines: string[]): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const sock: Socket = createConnection(path);
    const replies: Record<string, unknown>[] = [];
    let buf = "";
    let greeted = false;
    sock.setEncoding("utf8");
    sock.on("error", reject);
    sock.on("data", (d: string) => {
      buf += d;
      for (let i = buf.indexOf("\r\n"); i >= 0; i = buf.indexOf("\r\n")) {
        const m = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
        buf = buf.slice(i + 2);
        if (!greeted) {
          greeted = true;
          sock.write('{"execute":"qmp_capabilities"}\n' + lines.map((l) => l + "\n").join(""));
          continue;
        }
        if ("event" in m) continue;
        replies.push(m);
        if (replies.length === lines.length + 1) {
          sock.destroy();
          resolve(replies.slice(1));
        }
      }
    });
  });
}

test(`${MESSAGES} random and malformed control messages from ${CLIENTS} clients: one reply each, the server keeps serving, memory bounded`, {
  skip,
  timeout: 600_000,
}, async () => {
  const path = join(mkdtempSync(join(tmpdir(), "vmport-fuzz-")), "c.sock");
  await prepareControlPath(path);
  const s = await start({ argv: [scriptedGuest()], profile: { devices: [{ name: "cdrom0", enabled: true }] } });
  const g = new Script(s.stdin!, s.stdout!);
  const server = await ControlServer.listen(s, path);
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const perRun = 500;
  let sent = 0;
  let returns = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(line, { minLength: perRun, maxLength: perRun }), async (lines) => {
      const share = Math.ceil(lines.length / CLIENTS);
      const parts = Array.from({ length: CLIENTS }, (_, i) => lines.slice(i * share, (i + 1) * share));
      const replies = await Promise.all(parts.map((p) => exchange(path, p)));
      for (const r of replies.flat()) {
        assert.ok(
          "return" in r || ("error" in r && typeof (r["error"] as { desc: unknown }).desc === "string"),
          JSON.stringify(r).slice(0, 200),
        );
        if ("return" in r) returns++;
      }
      sent += lines.length;
    }),
    { numRuns: MESSAGES / perRun, seed: 1101, endOnFailure: true },
  );
  assert.equal(sent, MESSAGES);
  // Both kinds were exercised: commands that ran, and input refused.
  assert.ok(returns > MESSAGES / 10 && returns < MESSAGES - MESSAGES / 10, `${returns} returns`);
  // Still serving: a new client, and a value the guest reads.
  const c = await QmpClient.connect(path);
  await c.execute("guestinfo-set", { key: "after-fuzz", value: "yes" });
  assert.equal(((await c.execute("query-status")) as { status: string }).status, "running");
  assert.equal(await g.ask("rpc info-get guestinfo.after-fuzz"), "reply [1 yes]");
  c.destroy();
  gc();
  const grownMb = (process.memoryUsage().heapUsed - heapBefore) / (1024 * 1024);
  assert.ok(grownMb < HEAP_MARGIN_MB, `heap grew by ${grownMb.toFixed(1)} MiB`);
  g.send("exit 0");
  await s.exited;
  await server.closed;
});
