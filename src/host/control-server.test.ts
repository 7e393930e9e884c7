/**
 * The control socket over a real Unix socket, serving a real session (the scripted guest under the tracer): the
 * greeting and capabilities negotiation, every command, every event, malformed input of every kind (the
 * connection stays usable), a line over the bound, 50 clients at once and one over the limit, a client that
 * disconnects mid-request, a client that stops reading (its queue drops the oldest events, then EVENTS_DROPPED),
 * SHUTDOWN with the exit status, the socket's mode and its removal.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createConnection, createServer, type Socket } from "node:net";
import { existsSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { start, type VmSession } from "./session.js";
import { CONTROL_EVENT_QUEUE, CONTROL_MAX_CLIENTS, CONTROL_MAX_LINE_BYTES, ControlServer, prepareControlPath } from "./control-server.js";
import { QmpClient, QmpReplyError, type QmpEvent } from "./qmp-client.js";
import { isVmportError } from "../core/errors.js";
import { Script, scriptedGuest, scriptedSkip as skip } from "../test-support/scripted-guest.js";

const dir = mkdtempSync(join(tmpdir(), "vmport-ctl-"));
let n = 0;

/** A session on the scripted guest with a control socket. */
/** Every guest started here; a failed assertion must not leave one running. */
const sessions: VmSession[] = [];
after(() => {
  for (const s of sessions) if (s.running) s.kill("SIGKILL");
});

async function served(profile: object = {}): Promise<{ s: VmSession; g: Script; server: ControlServer; path: string }> {
  const path = join(dir, `c${n++}.sock`);
  await prepareControlPath(path);
  const s = await start({ argv: [scriptedGuest()], profile });
  sessions.push(s);
  const server = await ControlServer.listen(s, path);
  return { s, g: new Script(s.stdin!, s.stdout!), server, path };
}

/** A client that sees every line, raw. */
class Raw {
  private buf = "";
  readonly lines: Record<string, unknown>[] = [];
  private wake: (() => void) | null = null;
  closed = false;
  constructor(readonly socket: Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      this.buf += d;
      for (let i = this.buf.indexOf("\r\n"); i >= 0; i = this.buf.indexOf("\r\n")) {
        this.lines.push(JSON.parse(this.buf.slice(0, i)) as Record<string, unknown>);
        this.buf = this.buf.slice(i + 2);
      }
      this.wake?.();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on("error", () => {});
  }
  static async connect(path: string): Promise<Raw> {
    const r = new Raw(createConnection(path));
    await r.next(); // the greeting
    return r;
  }
  send(text: string): void {
    this.socket.write(text);
  }
  /** The next message that is not an event (or any message with `events`). */
  async next(o: { events?: boolean; timeoutMs?: number } = {}): Promise<Record<string, unknown>> {
    const deadline = Date.now() + (o.timeoutMs ?? 20_000);
    for (;;) {
      const i = this.lines.findIndex((l) => o.events === true || !("event" in l));
      if (i >= 0) return this.lines.splice(i, 1)[0]!;
      if (this.closed) throw new Error("closed");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`nothing within the time; have ${JSON.stringify(this.lines).slice(0, 300)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
      this.wake = null;
    }
  }
  async ask(execute: string, args?: object, id: unknown = 1): Promise<Record<string, unknown>> {
    this.send(JSON.stringify({ execute, ...(args ? { arguments: args } : {}), id }) + "\n");
    return this.next();
  }
  events(): QmpEvent[] {
    const out = this.lines.filter((l) => "event" in l) as unknown as QmpEvent[];
    for (const e of out) this.lines.splice(this.lines.indexOf(e as unknown as Record<string, unknown>), 1);
    return out;
  }
}

const err = (cls: string, desc: RegExp, id?: unknown) => (m: Record<string, unknown>) => {
  const e = m["error"] as { class: string; desc: string } | undefined;
  assert.ok(e !== undefined, `expected an error, got ${JSON.stringify(m)}`);
  assert.equal(e.class, cls);
  assert.match(e.desc, desc);
  if (id === undefined) assert.ok(!("id" in m), "no id");
  else assert.deepEqual(m["id"], id);
};

test("the socket is 0600; greeting; only qmp_capabilities before negotiation, no events; then commands in order with ids", {
  skip,
}, async () => {
  const { s, g, server, path } = await served();
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.ok(statSync(path).isSocket());
  const raw = new Raw(createConnection(path));
  const greeting = await raw.next();
  const v = greeting["QMP"] as {
    version: { qemu: { major: number; minor: number; micro: number }; package: string };
    capabilities: unknown[];
  };
  assert.deepEqual(v.capabilities, []);
  assert.equal(typeof v.version.qemu.major, "number");
  assert.match(v.version.package, /^vmport \d+\.\d+\.\d+/);
  err("CommandNotFound", /Expecting capabilities negotiation with 'qmp_capabilities'/, "a")(await raw.ask("query-status", undefined, "a"));
  const other = await QmpClient.connect(path);
  await other.execute("guestinfo-set", { key: "k", value: "v" }); // an event for negotiated clients only
  err("GenericError", /Capability 'oob' not available/, 2)(await raw.ask("qmp_capabilities", { enable: ["oob"] }, 2));
  assert.deepEqual(await raw.ask("qmp_capabilities", undefined, { any: ["json", 1] }), { return: {}, id: { any: ["json", 1] } });
  assert.deepEqual(raw.events(), [], "no event before negotiation");
  err("CommandNotFound", /already complete/, 3)(await raw.ask("qmp_capabilities", undefined, 3));
  // Pipelined: 20 requests in one write, answered in order.
  raw.send(
    Array.from(
      { length: 20 },
      (_, i) =>
        JSON.stringify({ execute: i % 2 ? "guestinfo-get" : "query-status", ...(i % 2 ? { arguments: { key: "k" } } : {}), id: i }) + "\n",
    ).join(""),
  );
  for (let i = 0; i < 20; i++) {
    const r = await raw.next();
    assert.equal(r["id"], i);
    if (i % 2) assert.deepEqual(r["return"], { value: "v" });
    else assert.equal((r["return"] as { status: string }).status, "running");
  }
  await other.close();
  raw.socket.destroy();
  g.send("exit 0");
  await s.exited;
  await server.closed;
  assert.equal(existsSync(path), false, "removed at exit");
});

test("every command, on a real guest: queries, guestinfo, tclo-send, mouse-event, clipboard, devices, subscribe", { skip }, async () => {
  const { s, g, server, path } = await served({ devices: [{ name: "cdrom0", enabled: false }], vmxType: 4 });
  const c = await QmpClient.connect(path);
  const version = (await c.execute("query-version")) as { qemu: object; package: string };
  assert.match(version.package, /^vmport /);
  assert.deepEqual(await c.execute("query-status"), { status: "running", pid: s.pid, "exit-status": null, "backdoor-calls": 0 });
  assert.equal(((await c.execute("query-profile")) as { vmxType: number; memSizeMb: number }).vmxType, 4);
  assert.equal(((await c.execute("query-profile")) as { memSizeMb: number }).memSizeMb, 2048, "defaults filled in");
  assert.deepEqual(await c.execute("guestinfo-set", { key: "guestinfo.a", value: "1 ✓" }), {});
  assert.deepEqual(await c.execute("guestinfo-get", { key: "a" }), { value: "1 ✓" });
  assert.equal(await g.ask("rpc info-get guestinfo.a"), "reply [1 1 ✓]");
  assert.equal(await g.ask("rpc info-set guestinfo.b from guest"), "reply [1 ]");
  assert.deepEqual(await c.execute("guestinfo-list"), { guestinfo: { "guestinfo.a": "1 ✓", "guestinfo.b": "from guest" } });
  assert.deepEqual(await c.execute("guestinfo-delete", { key: "a" }), { deleted: true });
  assert.deepEqual(await c.execute("guestinfo-get", { key: "a" }), { value: null });
  await assert.rejects(
    c.execute("guestinfo-set", { key: "x", value: "v".repeat(70_000) }),
    (e: unknown) =>
      e instanceof QmpReplyError && e.errorClass === "GenericError" && /Value too long.*VMPORT_GUESTINFO_LIMIT/.test(e.message),
  );
  g.send("tclo 2000");
  assert.deepEqual(await c.execute("tclo-send", { command: "echo hi", "timeout-ms": 5000 }), { ok: true, text: "hi" });
  assert.deepEqual(await c.execute("tclo-send", { command: "other" }), { ok: false, text: "Unknown command" });
  for (const want of ["tclo [reset]", "tclo [echo hi]", "tclo [other]", "tclo done"]) assert.equal(await g.next(), want);
  await assert.rejects(
    c.execute("tclo-send", { command: "ping", "timeout-ms": 100 }),
    (e: unknown) => e instanceof QmpReplyError && /VMPORT_TCLO_TIMEOUT/.test(e.message),
  );
  await assert.rejects(c.execute("tclo-send", { command: "ping", "timeout-ms": -1 }), /timeout-ms/);
  assert.deepEqual(await c.execute("mouse-event", { x: 5, y: 6 }), { queued: false });
  assert.equal(await g.ask("mouse-enable"), "mouse id=3442554a");
  assert.deepEqual(await c.execute("mouse-event", { x: 300, y: 400, buttons: 0x10, wheel: -1 }), { queued: true });
  assert.equal(await g.ask("mouse-read 2000"), "packet flags=10 x=300 y=400 z=-1");
  assert.deepEqual(await c.execute("clipboard-set", { text: "host text" }), {});
  assert.equal(await g.ask("clip-get"), "host-clipboard [host text]");
  assert.equal(await g.ask("clip-set guest text"), "clip-set done");
  assert.deepEqual(await c.execute("clipboard-get"), { text: "guest text" });
  assert.deepEqual(await c.execute("device-list"), { devices: [{ name: "cdrom0", connected: false }] });
  assert.deepEqual(await c.execute("device-set", { name: "cdrom0", connected: true }), {});
  assert.equal(await g.ask("devices"), "device cdrom0 enabled=1");
  await g.next();
  await assert.rejects(
    c.execute("device-set", { name: "zip0", connected: true }),
    (e: unknown) => e instanceof QmpReplyError && e.errorClass === "DeviceNotFound",
  );
  const guest = (await c.execute("query-guest")) as {
    schema: string;
    exit: null;
    guest: { toolsRunning: boolean; guestinfo: object };
    tclo: { commands: unknown[] };
  };
  assert.equal(guest.schema, "vmport.report/1");
  assert.equal(guest.exit, null);
  assert.equal(guest.guest.toolsRunning, true);
  assert.equal(guest.tclo.commands.length, 4); // reset, echo hi, other, the ping that timed out
  const counters = (await c.execute("query-counters")) as Record<string, Record<string, number>>;
  assert.equal(counters["mouse"]!["ignored"], 1);
  assert.ok(counters["tracer"]!["traps"]! > 0 && counters["rpci"]!["requests"]! >= 2);
  assert.deepEqual(await c.execute("subscribe", { events: ["BACKDOOR_CALL"] }), {
    events: ["GUEST_CHANGED", "GUEST_LOG", "TCLO_RESULT", "SHUTDOWN", "EVENTS_DROPPED", "BACKDOOR_CALL"],
  });
  assert.deepEqual(await c.execute("subscribe", { events: [] }), {
    events: ["GUEST_CHANGED", "GUEST_LOG", "TCLO_RESULT", "SHUTDOWN", "EVENTS_DROPPED"],
  });
  await assert.rejects(c.execute("subscribe", { events: ["NOPE"] }), /unknown event 'NOPE'/);
  const st = (await c.execute("query-status")) as { "backdoor-calls": number };
  assert.ok(st["backdoor-calls"] > 0);
  c.destroy();
  g.send("exit 0");
  await s.exited;
  await server.closed;
});

test("every event: GUEST_CHANGED, GUEST_LOG, TCLO_RESULT to all, BACKDOOR_CALL to subscribers only; SHUTDOWN with the exit status, then the socket goes", {
  skip,
}, async () => {
  const { s, g, server, path } = await served();
  const all = await QmpClient.connect(path);
  const sub = await QmpClient.connect(path);
  const got = { all: [] as QmpEvent[], sub: [] as QmpEvent[] };
  all.onEvent((e) => got.all.push(e));
  sub.onEvent((e) => got.sub.push(e));
  await sub.execute("subscribe", { events: ["BACKDOOR_CALL"] });
  await sub.execute("query-status"); // the worker traces from here on
  await g.ask("rpc info-set guestinfo.x 1");
  await g.ask("rpc log hello \x1b]0;title\x07");
  g.send("tclo 1500");
  await all.execute("tclo-send", { command: "ping" });
  for (let i = 0; i < 3; i++) await g.next();
  assert.equal(await g.ask("loop 2"), "ok=2");
  await new Promise((r) => setTimeout(r, 200));
  g.send("exit 5");
  await Promise.all([all.closed, sub.closed]);
  await server.closed;
  assert.equal(existsSync(path), false);
  const names = (l: QmpEvent[]) => l.map((e) => e.event);
  assert.ok(!names(got.all).includes("BACKDOOR_CALL"));
  const calls = got.sub.filter((e) => e.event === "BACKDOOR_CALL");
  assert.ok(calls.length >= 2 + 9 * 2, `${calls.length} BACKDOOR_CALL events`); // two RPCI exchanges, the TCLO loop, the loop
  assert.ok(calls.some((e) => e.data?.["command"] === 10 && e.data["op"] === "in" && e.data["port"] === 0x5658));
  for (const l of [got.all, got.sub]) {
    const other = l.filter((e) => e.event !== "BACKDOOR_CALL");
    assert.deepEqual(other.find((e) => e.event === "GUEST_CHANGED")?.data, { field: "guestinfo", key: "guestinfo.x", value: "1" });
    assert.deepEqual(other.find((e) => e.event === "GUEST_LOG")?.data, { line: "hello \x1b]0;title\x07" });
    assert.deepEqual(
      other.filter((e) => e.event === "TCLO_RESULT").map((e) => e.data),
      [
        { command: "reset", internal: true, outcome: "ok", ok: true, text: "ATR toolbox" },
        { command: "ping", internal: false, outcome: "ok", ok: true, text: "" },
      ],
    );
    assert.ok(other.some((e) => e.event === "GUEST_CHANGED" && e.data?.["field"] === "toolsRunning" && e.data["value"] === true));
    const last = l.at(-1)!;
    assert.equal(last.event, "SHUTDOWN", "SHUTDOWN is the last thing a client gets");
    assert.deepEqual(last.data, { "exit-status": 5, signal: null, "signal-name": null });
    for (const e of l) assert.ok(Number.isInteger(e.timestamp.seconds) && e.timestamp.microseconds >= 0 && e.timestamp.microseconds < 1e6);
  }
  assert.equal((await s.exited).status, 5);
});

test("malformed input of every kind gets an error reply and the connection stays usable; a line over the bound is skipped", {
  skip,
}, async () => {
  const { s, g, server, path } = await served();
  const r = await Raw.connect(path);
  assert.deepEqual(await r.ask("qmp_capabilities"), { return: {}, id: 1 });
  r.send("{not json\n");
  err("GenericError", /JSON parse error/)(await r.next());
  r.send("[1,2]\n");
  err("GenericError", /must be a JSON object/)(await r.next());
  r.send('"x"\n');
  err("GenericError", /must be a JSON object/)(await r.next());
  r.send('{"id": 7}\n');
  err("GenericError", /lacks member 'execute'/, 7)(await r.next());
  r.send('{"execute": 5, "id": 8}\n');
  err("GenericError", /'execute' must be a string/, 8)(await r.next());
  r.send('{"execute": "query-status", "arguments": [1], "id": 9}\n');
  err("GenericError", /'arguments' must be an object/, 9)(await r.next());
  r.send('{"execute": "query-status", "extra": 1, "id": 10}\n');
  err("GenericError", /member 'extra' is unexpected/, 10)(await r.next());
  r.send('{"exec-oob": "query-status", "id": 11}\n');
  err("GenericError", /out-of-band/, 11)(await r.next());
  err("CommandNotFound", /The command no-such has not been found/, 12)(await r.ask("no-such", undefined, 12));
  err("GenericError", /Invalid parameter type for 'key', expected: string/, 13)(await r.ask("guestinfo-get", { key: 1 }, 13));
  err("GenericError", /Parameter 'key' is missing/, 14)(await r.ask("guestinfo-get", {}, 14));
  err("GenericError", /Parameter 'nope' is unexpected/, 15)(await r.ask("guestinfo-get", { key: "k", nope: 1 }, 15));
  err("GenericError", /expected: integer/, 16)(await r.ask("mouse-event", { x: 1.5, y: 0 }, 16));
  err("GenericError", /expected: boolean/, 17)(await r.ask("device-set", { name: "a", connected: "yes" }, 17));
  err("GenericError", /nested deeper/)(await r.ask("query-status", undefined, JSON.parse("[".repeat(200) + "]".repeat(200))));
  // Over the bound, in several writes and no newline until the end: one error, the line is skipped.
  const chunk = "x".repeat(64 * 1024);
  for (let sent = 0; sent <= CONTROL_MAX_LINE_BYTES; sent += chunk.length) r.send(chunk);
  r.send('"}\n');
  err("GenericError", /longer than 1048576 bytes/)(await r.next());
  r.send("\n  \r\n"); // blank lines are ignored
  r.send('{"execute":"guestinfo-set","arguments":{"key":"after","value":"ok"},"id":"last"}\r\n'); // CRLF works too
  assert.deepEqual(await r.next(), { return: {}, id: "last" });
  assert.equal(await g.ask("rpc info-get guestinfo.after"), "reply [1 ok]");
  r.socket.destroy();
  g.send("exit 0");
  await s.exited;
  await server.closed;
});

test("50 clients at once each get their own answers; one over the limit is told and closed; a client gone mid-request changes nothing for others", {
  skip,
}, async () => {
  const { s, g, server, path } = await served();
  const clients = await Promise.all(Array.from({ length: 50 }, () => QmpClient.connect(path)));
  await Promise.all(clients.map((c, i) => c.execute("guestinfo-set", { key: `k${i}`, value: `v${i}` })));
  const values = await Promise.all(clients.map((c, i) => c.execute("guestinfo-get", { key: `k${i}` })));
  for (const [i, v] of values.entries()) assert.deepEqual(v, { value: `v${i}` });
  assert.equal(Object.keys(((await clients[0]!.execute("guestinfo-list")) as { guestinfo: object }).guestinfo).length, 50);
  const more = await Promise.all(Array.from({ length: CONTROL_MAX_CLIENTS - 50 }, () => QmpClient.connect(path)));
  assert.equal(server.clientCount, CONTROL_MAX_CLIENTS);
  const over = new Raw(createConnection(path));
  err("GenericError", /too many clients \(at most 64\)/)(await over.next());
  await new Promise((r) => over.socket.once("close", r));
  for (const c of more) c.destroy();
  while (server.clientCount > 50) await new Promise((r) => setTimeout(r, 10));
  // A client that asks and goes away: a TCLO command that waits, a guestinfo-set, half a line.
  const gone = await Raw.connect(path);
  await gone.ask("qmp_capabilities");
  gone.send(JSON.stringify({ execute: "tclo-send", arguments: { command: "ping", "timeout-ms": 60000 }, id: 1 }) + "\n");
  gone.send(JSON.stringify({ execute: "guestinfo-get", arguments: { key: "k1" }, id: 2 }) + "\n");
  gone.send('{"execute": "guestinfo-s');
  gone.socket.destroy();
  const other = clients[1]!;
  const tclo: QmpEvent[] = [];
  other.onEvent((e) => e.event === "TCLO_RESULT" && tclo.push(e));
  assert.deepEqual(await other.execute("guestinfo-get", { key: "k1" }), { value: "v1" });
  g.send("tclo 1500");
  for (let i = 0; i < 3; i++) await g.next(); // reset, the gone client's ping, done
  await other.execute("query-status");
  assert.deepEqual(
    tclo.map((e) => [e.data?.["command"], e.data?.["outcome"]]),
    [
      ["reset", "ok"],
      ["ping", "ok"],
    ],
  );
  for (const c of clients) c.destroy();
  g.send("exit 0");
  await s.exited;
  await server.closed;
});

test("a client that stops reading: its events queue up to the bound, the oldest are dropped, then EVENTS_DROPPED; others are not slowed", {
  skip,
}, async () => {
  const { s, g, server, path } = await served();
  const slow = await Raw.connect(path);
  await slow.ask("qmp_capabilities");
  await slow.ask("subscribe", { events: ["BACKDOOR_CALL"] });
  await slow.ask("query-status");
  slow.socket.pause(); // reads nothing from now on
  const fast = await QmpClient.connect(path);
  assert.equal(await g.ask("loop 30000"), "ok=30000");
  await fast.execute("guestinfo-set", { key: "still", value: "served" });
  assert.equal(await g.ask("rpc info-get guestinfo.still"), "reply [1 served]");
  fast.destroy();
  g.send("exit 0");
  const total = (await s.exited).report.backdoorCalls;
  slow.socket.resume();
  const ev: QmpEvent[] = [];
  for (;;) {
    const e = (await slow.next({ events: true })) as unknown as QmpEvent;
    ev.push(e);
    if (e.event === "SHUTDOWN") break;
  }
  await server.closed;
  const calls = ev.filter((e) => e.event === "BACKDOOR_CALL").length;
  const drops = ev.filter((e) => e.event === "EVENTS_DROPPED");
  const dropped = drops.reduce((k, e) => k + (e.data?.["count"] as number), 0);
  assert.ok(
    drops.some((e) => e.data?.["kind"] === "client-queue"),
    JSON.stringify(drops.map((e) => e.data)),
  );
  assert.ok(calls < 30000, `${calls} delivered`);
  assert.ok(calls >= CONTROL_EVENT_QUEUE, "the queue kept the newest");
  assert.equal(calls + dropped, total, "every access after subscribing (all of them): delivered or counted");
});

test("the socket path: a stale socket is replaced, a live one or another file refused, a path too long or in a missing directory refused", async () => {
  const stale = join(dir, "stale.sock");
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(stale, r));
  await assert.rejects(prepareControlPath(stale), /another server is listening/);
  await new Promise<void>((r) => srv.close(() => r()));
  // A socket file nobody listens on (a vmport killed with SIGKILL leaves one).
  const { spawnSync } = await import("node:child_process");
  const killed = spawnSync(process.execPath, [
    "-e",
    `require("net").createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, "SIGKILL"))`,
  ]);
  assert.equal(killed.signal, "SIGKILL");
  assert.ok(existsSync(stale));
  await prepareControlPath(stale);
  assert.equal(existsSync(stale), false);
  const file = join(dir, "file");
  writeFileSync(file, "x");
  await assert.rejects(prepareControlPath(file), /exists and is not a socket/);
  await assert.rejects(prepareControlPath(join(dir, "x".repeat(120))), /longer than 107 bytes/);
  await assert.rejects(prepareControlPath(join(dir, "missing", "c.sock")), (e: unknown) => isVmportError(e) && /directory/.test(e.message));
});

test("BACKDOOR_CALL lines are exactly what the general QMP writer gives for the event", async () => {
  const { backdoorLine, wire } = await import("./control-server.js");
  const { VirtualMachine } = await import("../vm/virtual-machine.js");
  const { setup, MAGIC } = await import("../test-support/harness.js");
  const vm = new VirtualMachine();
  let checked = 0;
  vm.trace.on((a) => {
    const r = a.toRecord();
    const ns = BigInt(r.timeNs);
    assert.equal(
      backdoorLine(r),
      wire({
        event: "BACKDOOR_CALL",
        data: r,
        timestamp: { seconds: Number(ns / 1_000_000_000n), microseconds: Number((ns % 1_000_000_000n) / 1000n) },
      }),
    );
    checked++;
  });
  for (const code of ["ed", "66 ed", "ec", "e5 58", "f0 ed", "0f 33", "90", "f3 6e"]) {
    for (const rdx of [0x5658n, 0x5659n, 0x80n])
      vm.handleGp(setup(code, { rax: MAGIC, rcx: 10n, rdx, rbx: 0xffffffffffffffffn }, { vcpu: 1234 }).cpu, setup(code).mem);
  }
  assert.equal(checked, 24);
});
