/**
 * `vmport/host` sessions against a real traced program (`testdata/host-guest.c`, a guest scripted line by line over
 * its stdin): every host call takes effect while the guest runs — also while it makes no backdoor call (it waits
 * on stdin) —, TCLO answers and timeouts, every event with several listeners, the bounds that drop events rather
 * than queue them, two sessions in one process, stdio/env/cwd, misuse refused before anything runs, exit and state.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { start, ExecError, EVENT_BACKLOG_MAX, TRACE_RING_SLOTS, type VmSession } from "./index.js";
import { isVmportError } from "../core/errors.js";
import { GUESTINFO_MAX_VALUE_BYTES } from "../channels/guestinfo-store.js";
import { Script, scriptedGuest, scriptedSkip as skip } from "../test-support/scripted-guest.js";
import type { TraceRecord } from "../vm/trace.js";

const dir = mkdtempSync(join(tmpdir(), "vmport-session-"));

const sessions: VmSession[] = [];
// A test that fails half-way leaves its guest waiting on stdin: kill what is left, so the file ends.
after(() => {
  for (const s of sessions) s.kill("SIGKILL");
});

/** A session running the scripted guest, and its conversation. */
async function scripted(o: Parameters<typeof start>[0] extends infer T ? Partial<T> : never = {}): Promise<{ s: VmSession; g: Script }> {
  const s = await start({ argv: [scriptedGuest()], ...o });
  sessions.push(s);
  return { s, g: new Script(s.stdin!, s.stdout!) };
}

/** Everything a stream gives until its end. */
async function text(r: NodeJS.ReadableStream): Promise<string> {
  let out = "";
  for await (const d of r) out += d.toString();
  return out;
}

/** Resolves with the error code a promise rejects with. */
async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isVmportError(e) ? e.code : String(e);
  }
  return "resolved";
}

test("guestinfo set by the host while the guest makes no backdoor call is read by its next info-get; get/list/delete see the guest's own sets", {
  skip,
}, async () => {
  const { s, g } = await scripted({ guestinfo: { preset: "from start" } });
  await new Promise((r) => setTimeout(r, 300)); // the guest sits in read(2): no trap wakes the tracer
  const before = (await s.status()).backdoorCalls;
  await s.guestinfo.set("late", "yes");
  assert.equal((await s.status()).backdoorCalls, before, "the set needed no backdoor call");
  assert.equal(await g.ask("rpc info-get guestinfo.late"), "reply [1 yes]");
  assert.equal(await g.ask("rpc info-set guestinfo.fromguest hi there"), "reply [1 ]");
  assert.equal(await s.guestinfo.get("fromguest"), "hi there");
  assert.equal(await s.guestinfo.get("guestinfo.FROMGUEST"), "hi there", "keys are case-insensitive, prefix optional");
  assert.deepEqual(await s.guestinfo.list(), {
    "guestinfo.preset": "from start",
    "guestinfo.late": "yes",
    "guestinfo.fromguest": "hi there",
  });
  assert.equal(await s.guestinfo.delete("late"), true);
  assert.equal(await s.guestinfo.delete("late"), false);
  assert.equal(await g.ask("rpc info-get guestinfo.late"), "reply [0 No value found]");
  assert.equal(await code(s.guestinfo.set("big", "v".repeat(GUESTINFO_MAX_VALUE_BYTES + 1))), "VMPORT_GUESTINFO_LIMIT");
  assert.equal(await code(s.guestinfo.set(42 as unknown as string, "x")), "VMPORT_BAD_ARGUMENT");
  g.send("exit 0");
  const e = await s.exited;
  assert.equal(e.status, 0);
  assert.equal(e.state.guestinfo["guestinfo.fromguest"], "hi there");
});

test("tclo: answers arrive while the guest runs its TCLO loop; an idle guest times out on time; a pending command fails at exit", {
  skip,
}, async () => {
  const { s, g } = await scripted();
  const t0 = Date.now();
  assert.equal(await code(s.tclo("ping", { timeoutMs: 200 })), "VMPORT_TCLO_TIMEOUT", "nobody polls: times out although no trap happens");
  assert.ok(Date.now() - t0 >= 200);
  g.send("tclo 3000");
  assert.deepEqual(await s.tclo("ping"), { ok: true, text: "" });
  assert.deepEqual(await s.tclo("echo hello\x1b[2J"), { ok: true, text: "hello\x1b[2J" });
  assert.deepEqual(await s.tclo("no.such.command"), { ok: false, text: "Unknown command" }); // the scripted guest's own answer
  // The timed-out ping was never handed over; the reset queued at the guest's OPEN goes first.
  const lines = [await g.next(), await g.next(), await g.next(), await g.next()];
  assert.deepEqual(lines, ["tclo [reset]", "tclo [ping]", "tclo [echo hello\x1b[2J]", "tclo [no.such.command]"]);
  assert.equal(await g.next(8000), "tclo done");
  const m = await s.guest();
  // The history is in the order commands were queued: the reset the guest's OPEN queues and the host's ping can
  // come in either order (the wire order above is fixed: reset is handed over first).
  const hist = m.tclo.commands.map((c) => [c.command, c.internal, c.outcome]);
  assert.deepEqual(hist[0], ["ping", false, "timeout"]);
  assert.deepEqual(hist.slice(1, 3).sort(), [
    ["ping", false, "ok"],
    ["reset", true, "ok"],
  ]);
  assert.deepEqual(hist.slice(3), [
    ["echo hello\x1b[2J", false, "ok"],
    ["no.such.command", false, "error"],
  ]);
  assert.equal(m.guest.toolsRunning, true);
  const pending = s.tclo("ping", { timeoutMs: 60_000 });
  g.send("exit 0");
  assert.equal(await code(pending), "VMPORT_SESSION_EXITED");
  assert.equal(await code(s.tclo("ping")), "VMPORT_SESSION_EXITED");
});

test("events: guest-change, guest-log and tclo-result reach every listener as they happen; off() stops them", { skip }, async () => {
  const { s, g } = await scripted();
  const a: string[] = [];
  const b: string[] = [];
  const logs: string[] = [];
  const tclo: string[] = [];
  const la = (c: { field: string; key?: string; value: unknown }) => a.push(`${c.field} ${c.key ?? ""} ${JSON.stringify(c.value)}`);
  s.on("guest-change", la);
  s.on("guest-change", (c) => b.push(c.field));
  s.on("guest-log", (l) => logs.push(l));
  s.on("tclo-result", (r) => tclo.push(`${r.command} ${r.internal} ${r.outcome} ${r.text}`));
  await g.ask("rpc info-set guestinfo.x 1");
  await g.ask("rpc log hello\x07");
  await s.guestinfo.set("y", "2");
  g.send("tclo 1500");
  await s.tclo("ping");
  assert.equal(await g.next(), "tclo [reset]");
  assert.equal(await g.next(), "tclo [ping]");
  assert.equal(await g.next(), "tclo done");
  s.off("guest-change", la);
  await g.ask("rpc info-set guestinfo.z 3"); // a no longer listens
  await s.guest(); // a round trip: every event posted before it has arrived
  assert.deepEqual(a.slice(0, 3), ['guestinfo guestinfo.x "1"', 'guestinfo guestinfo.y "2"', "toolsRunning  true"]);
  assert.ok(!a.some((x) => x.includes("guestinfo.z")));
  assert.ok(b.includes("toolsService") && b.filter((f) => f === "guestinfo").length === 3);
  assert.deepEqual(logs, ["hello\x07"]);
  assert.deepEqual(tclo, ["reset true ok ATR toolbox", "ping false ok "]);
  g.send("exit 0");
  await s.exited;
});

test("backdoor-call records arrive for every access while someone listens, as --trace writes them; none after off()", {
  skip,
}, async () => {
  const { s, g } = await scripted();
  const recs: TraceRecord[] = [];
  const l = (r: TraceRecord) => recs.push(r);
  s.on("backdoor-call", l);
  await s.status(); // the worker has the subscription
  assert.equal(await g.ask("loop 3"), "ok=3");
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(recs.length, 3);
  for (const r of recs) {
    assert.deepEqual([r.op, r.port, r.command, r.outcome, r.regsOut["rbx"]], ["in", 0x5658, 10, "completed", "0x00000000564d5868"]);
    assert.equal(r.vcpu, s.pid);
  }
  s.off("backdoor-call", l);
  await s.status();
  assert.equal(await g.ask("loop 5"), "ok=5");
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(recs.length, 3);
  g.send("exit 0");
  assert.equal((await s.exited).report.backdoorCalls, 8);
});

test("bounds: a guest outrunning a busy host loses events, never memory — every record and log line is delivered or counted", {
  skip,
}, async () => {
  const { s, g } = await scripted();
  let records = 0;
  let logs = 0;
  const dropped = { "backdoor-call": 0, events: 0 };
  s.on("backdoor-call", () => records++);
  s.on("guest-log", () => logs++);
  s.on("events-dropped", (d) => (dropped[d.kind] += d.count));
  await s.status();
  const mark = join(dir, `mark-${Date.now()}`);
  g.send("loop 20000");
  g.send("rpcs 1000 log flood");
  g.send(`mark ${mark}`);
  await new Promise((r) => setImmediate(r));
  // Keep this thread busy (no event loop) until the guest is done: the worker must not wait for it.
  const stop = Date.now() + 120_000;
  while (!existsSync(mark) && Date.now() < stop);
  assert.ok(existsSync(mark), "the guest finished while the host's event loop was blocked");
  g.send("exit 0");
  const e = await s.exited;
  assert.ok(dropped["backdoor-call"] > 0 && records <= TRACE_RING_SLOTS, `${records} records, ${dropped["backdoor-call"]} dropped`);
  assert.ok(e.report.backdoorCalls > 20000);
  assert.equal(records + dropped["backdoor-call"], e.report.backdoorCalls, "every access: delivered or counted");
  assert.ok(dropped.events > 0 && logs <= EVENT_BACKLOG_MAX, `${logs} log events, ${dropped.events} dropped`);
  assert.equal(logs + dropped.events, 1000);
});

test("vmmouse, clipboard and removable devices: host input reaches the guest's backdoor calls and back", { skip }, async () => {
  const { s, g } = await scripted({
    profile: {
      devices: [
        { name: "cdrom0", enabled: false },
        { name: "floppy0", enabled: true },
      ],
    },
  });
  assert.equal(await s.mouse(1, 2), false, "the guest has not enabled vmmouse: ignored");
  assert.equal(await g.ask("mouse-enable"), "mouse id=3442554a");
  assert.equal(await s.mouse(100, 200, 0x20, 0), true);
  assert.equal(await g.ask("mouse-read 2000"), "packet flags=20 x=100 y=200 z=0");
  assert.equal(await code(s.mouse(Number.NaN, 0)), "VMPORT_BAD_ARGUMENT");
  await s.clipboard.set("from host ✓");
  assert.equal(await g.ask("clip-get"), "host-clipboard [from host ✓]");
  assert.equal(await code(s.clipboard.set("x".repeat(65437))), "VMPORT_BAD_ARGUMENT");
  assert.equal(await s.clipboard.get(), null);
  assert.equal(await g.ask("clip-set from guest"), "clip-set done");
  assert.equal(await s.clipboard.get(), "from guest");
  await s.devices.set("cdrom0", true);
  assert.equal(await g.ask("devices"), "device cdrom0 enabled=1");
  assert.equal(await g.next(), "device floppy0 enabled=1");
  assert.equal(await g.next(), "devices done");
  await s.devices.set("floppy0", false);
  assert.deepEqual(await s.devices.list(), [
    { name: "cdrom0", connected: true },
    { name: "floppy0", connected: false },
  ]);
  assert.equal(await code(s.devices.set("nope", true)), "VMPORT_NO_DEVICE");
  const c = await s.counters();
  assert.equal(c["mouse"]!["ignored"], 1);
  assert.equal(c["mouse"]!["packets"], 1);
  assert.ok(c["tracer"]!["traps"]! > 0);
  g.send("exit 0");
  const e = await s.exited;
  assert.deepEqual(e.state.devices, [
    { name: "cdrom0", enabled: true },
    { name: "floppy0", enabled: false },
  ]);
  assert.deepEqual(e.state.clipboard, { host: "from host ✓", guest: "from guest" });
});

test("waitForGuest resolves when the model satisfies the predicate, times out, or fails when the program exits first", {
  skip,
}, async () => {
  const { s, g } = await scripted();
  const ready = s.waitForGuest((m) => m.guest.guestinfo["guestinfo.ready"] === "1", { timeoutMs: 20_000 });
  g.send("rpc info-set guestinfo.ready 1");
  const m = await ready;
  assert.equal(m.guest.guestinfo["guestinfo.ready"], "1");
  assert.equal(await code(s.waitForGuest((x) => x.guest.hostname === "never", { timeoutMs: 150 })), "VMPORT_TIMEOUT");
  assert.equal(
    await code(
      s.waitForGuest(() => {
        throw new Error("predicate bug");
      }),
    ),
    "Error: predicate bug",
  );
  const never = s.waitForGuest((x) => x.guest.hostname === "never", { timeoutMs: 20_000 });
  g.send("exit 0");
  assert.equal(await code(never), "VMPORT_SESSION_EXITED");
});

test("two sessions in one process are independent: own guestinfo, own TCLO, own exit", { skip }, async () => {
  const [a, b] = await Promise.all([scripted({ guestinfo: { who: "a" } }), scripted({ guestinfo: { who: "b" } })]);
  await a.s.guestinfo.set("only", "in a");
  assert.equal(await a.g.ask("rpc info-get guestinfo.who"), "reply [1 a]");
  assert.equal(await b.g.ask("rpc info-get guestinfo.who"), "reply [1 b]");
  assert.equal(await b.g.ask("rpc info-get guestinfo.only"), "reply [0 No value found]");
  b.g.send("tclo 1500");
  assert.deepEqual(await b.s.tclo("echo b"), { ok: true, text: "b" });
  assert.equal(await code(a.s.tclo("echo a", { timeoutMs: 100 })), "VMPORT_TCLO_TIMEOUT");
  a.g.send("exit 7");
  assert.equal((await a.s.exited).status, 7);
  assert.equal(b.s.running, true);
  assert.equal(await b.s.guestinfo.get("who"), "b");
  b.g.send("exit 0");
  assert.equal((await b.s.exited).status, 0);
});

test("stdio, env and cwd: ignore gives /dev/null, pipe gives streams; env and cwd are the program's", { skip }, async () => {
  const s = await start({ argv: ["/bin/sh", "-c", 'pwd; echo "$FOO"; cat'], env: { FOO: "bar baz", PATH: "/usr/bin:/bin" }, cwd: dir });
  const out = text(s.stdout!);
  s.stdin!.end("to cat\n");
  assert.equal((await s.exited).status, 0);
  assert.equal(await out, `${dir}\nbar baz\nto cat\n`);
  writeFileSync(join(dir, "script.sh"), '#!/bin/sh\necho "$0"\n', { mode: 0o755 });
  const rel = await start({ argv: ["./script.sh"], cwd: dir });
  const o2 = text(rel.stdout!);
  assert.equal((await rel.exited).status, 0);
  assert.equal(await o2, "./script.sh\n", "a relative program runs from cwd under the name given");
  const quiet = await start({ argv: [scriptedGuest()], stdio: "ignore" });
  assert.equal(quiet.stdout, null);
  assert.equal((await quiet.exited).status, 0, "stdin is /dev/null: the guest reads EOF and ends");
});

test("misuse is refused before anything runs: argv, options, profile, state, guestinfo, a program that cannot run", { skip }, async () => {
  const cases: [Parameters<typeof start>[0], string, RegExp][] = [
    [{ argv: [] }, "VMPORT_BAD_ARGUMENT", /argv/],
    [{ argv: ["true"], stdio: "tty" as "pipe" }, "VMPORT_BAD_ARGUMENT", /stdio/],
    [{ argv: ["true"], pin: -1 }, "VMPORT_BAD_ARGUMENT", /pin/],
    [{ argv: ["true"], cwd: join(dir, "nope") }, "VMPORT_BAD_ARGUMENT", /cwd/],
    [{ argv: ["true"], profile: { vmxType: "esx" } as object }, "VMPORT_BAD_PROFILE", /vmxType/],
    [{ argv: ["true"], state: { version: 9 } as never }, "VMPORT_BAD_STATE", /version/],
    [{ argv: ["true"], guestinfo: { k: "v".repeat(GUESTINFO_MAX_VALUE_BYTES + 1) } }, "VMPORT_GUESTINFO_LIMIT", /Value too long/],
    [{ argv: ["true"], state: join(dir, "no-such-dir", "s.json") }, "VMPORT_BAD_ARGUMENT", /directory/],
    [{ argv: ["no-such-program-vmport"] }, "VMPORT_EXEC_FAILED", /command not found/],
  ];
  for (const [o, c, msg] of cases) {
    await assert.rejects(start(o), (e: unknown) => isVmportError(e) && e.code === c && msg.test(e.message), JSON.stringify(o).slice(0, 80));
  }
  await assert.rejects(start({ argv: [dir] }), (e: unknown) => e instanceof ExecError && e.exitStatus === 126);
});

test("kill, exit status and signal; state saved to its file while the program runs and at exit; reads after exit", { skip }, async () => {
  const file = join(dir, "state.json");
  const { s, g } = await scripted({ state: file });
  assert.throws(() => s.on("nope" as "exit", () => {}), /unknown event/);
  await g.ask("rpc info-set guestinfo.saved yes");
  for (let i = 0; i < 200 && !(existsSync(file) && readFileSync(file, "utf8").includes('"yes"')); i++)
    await new Promise((r) => setTimeout(r, 25));
  assert.equal(JSON.parse(readFileSync(file, "utf8")).guestinfo["guestinfo.saved"], "yes", "saved while the program runs");
  const exits: number[] = [];
  s.on("exit", (e) => exits.push(e.status));
  assert.equal(s.kill("SIGTERM"), true);
  const e = await s.exited;
  assert.deepEqual([e.status, e.signal, e.signalName, e.report.exit?.signalName], [143, 15, "SIGTERM", "SIGTERM"]);
  assert.deepEqual(exits, [143]);
  assert.equal(s.kill(), false);
  assert.equal(s.running, false);
  assert.ok(e.stateSaves >= 2 && e.stateError === null);
  assert.equal(await s.guestinfo.get("saved"), "yes", "reads are answered from the state at exit");
  assert.deepEqual(await s.status(), { running: false, pid: s.pid, exitStatus: 143, backdoorCalls: e.report.backdoorCalls });
  assert.equal((await s.guest()).exit?.status, 143);
  assert.equal(await code(s.guestinfo.set("x", "y")), "VMPORT_SESSION_EXITED");
  const again = await start({ argv: [scriptedGuest()], state: file });
  const g2 = new Script(again.stdin!, again.stdout!);
  assert.equal(await g2.ask("rpc info-get guestinfo.saved"), "reply [1 yes]", "the next session starts from the file");
  g2.send("exit 0");
  await again.exited;
});
