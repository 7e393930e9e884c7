/**
 * `vmport run --control` and `vmport ctl`: readable output (tables, the model's summary, escaped guest text), `--json`,
 * `NAME=VALUE` / `NAME:=JSON` arguments, `watch` until SHUTDOWN, and every exit status (0 return, 1 error reply,
 * 2 usage, 3 unreachable) — as processes, the way a user runs them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatEvent, formatReturn, guestSummary, parseCtlArgs, table } from "./ctl-command.js";
import { VirtualMachine } from "../vm/virtual-machine.js";
import { buildReport } from "../vm/report.js";
import { ROOT, vmport } from "../test-support/system.js";
import { scriptedGuest, scriptedSkip as skip } from "../test-support/scripted-guest.js";
import { isVmportError } from "../core/errors.js";

test("arguments: NAME=VALUE is a string, NAME:=JSON a JSON value; bad ones are usage errors", () => {
  assert.deepEqual(parseCtlArgs(["key=a=b", "timeout-ms:=5000", "connected:=true", 'events:=["BACKDOOR_CALL"]', "value="]), {
    key: "a=b",
    "timeout-ms": 5000,
    connected: true,
    events: ["BACKDOOR_CALL"],
    value: "",
  });
  for (const bad of [["novalue"], ["=x"], ["x:={"], ["a=1", "a=2"], ["bad name=1"]]) {
    assert.throws(
      () => parseCtlArgs(bad),
      (e: unknown) => isVmportError(e) && e.code === "VMPORT_BAD_ARGUMENT",
      bad.join(" "),
    );
  }
});

test("output: tables for lists, key: value otherwise, the model as a summary; guest text escaped", () => {
  assert.equal(
    table(
      ["KEY", "VALUE"],
      [
        ["a", "1"],
        ["longer", "2"],
      ],
    ),
    "KEY     VALUE\na       1\nlonger  2\n",
  );
  assert.equal(
    formatReturn("guestinfo-list", { guestinfo: { "guestinfo.a": "x\x1b[2Jy", "guestinfo.bb": "" } }),
    "KEY           VALUE\nguestinfo.a   x\\x1b[2Jy\nguestinfo.bb\n",
  );
  assert.equal(formatReturn("guestinfo-get", { value: "line1\nline2" }), "line1\\x0aline2\n");
  assert.equal(formatReturn("guestinfo-get", { value: null }), "");
  assert.equal(formatReturn("device-list", { devices: [{ name: "cdrom0", connected: true }] }), "NAME    CONNECTED\ncdrom0  yes\n");
  assert.equal(formatReturn("tclo-send", { ok: false, text: "bad\u202e" }), "ok: false\ntext: bad\\u{202e}\n");
  assert.equal(formatReturn("guestinfo-set", {}), "");
  assert.equal(
    formatReturn("query-status", { status: "exited", pid: 9, "exit-status": 3, "backdoor-calls": 12 }),
    "exited with status 3, pid 9, 12 backdoor calls\n",
  );
  assert.match(formatReturn("query-counters", { mouse: { ignored: 2 } }), /^COUNTER\s+VALUE\nmouse\.ignored\s+2\n$/);
  const vm = new VirtualMachine();
  vm.messaging.reported.set("hostname", "web-1\x1b]0;x\x07");
  vm.messaging.reported.set("toolsRunning", true);
  vm.messaging.reported.set("primaryIp", "192.0.2.7");
  vm.messaging.reported.log("started");
  const sum = guestSummary(buildReport(vm));
  assert.match(sum, /^program: running; 0 backdoor calls$/m);
  assert.match(sum, /^tools: running$/m);
  assert.match(sum, /^hostname: web-1\\x1b\]0;x\\x07$/m);
  assert.match(sum, /^primary IP: 192\.0\.2\.7$/m);
  assert.match(sum, /^log: 1 lines \(last: started\)$/m);
  assert.equal(
    formatEvent({ event: "GUEST_LOG", data: { line: "a\rb" }, timestamp: { seconds: 1700000000, microseconds: 42 } }),
    "2023-11-14T22:13:20.000042Z GUEST_LOG a\\x0db\n",
  );
  assert.match(
    formatEvent({
      event: "GUEST_CHANGED",
      data: { field: "guestinfo", key: "guestinfo.x", value: "1" },
      timestamp: { seconds: 1, microseconds: 0 },
    }),
    /GUEST_CHANGED guestinfo\[guestinfo\.x\] = "1"\n$/,
  );
});

/** `vmport ctl ARGS`. */
const ctl = (...args: string[]) => vmport(["ctl", ...args]);

test("vmport run --control with vmport ctl: commands, exit statuses, --json, watch until SHUTDOWN; the socket is 0600 and removed", {
  skip,
  timeout: 180_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "vmport-ctlcli-"));
  const sock = join(dir, "vm.sock");
  const run = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "run", "--control", sock, "--", scriptedGuest()], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  run.stdout.on("data", (d: Buffer) => (out += d.toString()));
  run.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const ended = new Promise<number | null>((r) => run.on("exit", (c) => r(c)));
  for (let i = 0; i < 600 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(existsSync(sock), `no socket; ${err}`);
  assert.equal(statSync(sock).mode & 0o777, 0o600);
  const watch = spawn(
    process.execPath,
    ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "ctl", sock, "watch", "GUEST_LOG", "GUEST_CHANGED"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let watched = "";
  watch.stdout.on("data", (d: Buffer) => (watched += d.toString()));
  const watchEnded = new Promise<number | null>((r) => watch.on("exit", (c) => r(c)));

  const status = ctl(sock, "query-status");
  assert.equal(status.status, 0, status.stderr);
  assert.match(status.stdout, /^running, pid \d+, 0 backdoor calls\n$/);
  assert.equal(ctl(sock, "guestinfo-set", "key=greeting", "value=hello\u202eworld").status, 0);
  const list = ctl(sock, "guestinfo-list");
  assert.equal(list.stdout, "KEY                 VALUE\nguestinfo.greeting  hello\\u{202e}world\n");
  const json = ctl("--json", sock, "guestinfo-get", "key=greeting");
  assert.deepEqual(JSON.parse(json.stdout), { value: "hello\u202eworld" });
  const tclo = ctl(sock, "tclo-send", "command=ping", "timeout-ms:=100");
  assert.equal(tclo.status, 1);
  assert.match(
    tclo.stderr,
    /^vmport: ctl: tclo-send: GenericError: TCLO "ping": the guest did not poll in time \(VMPORT_TCLO_TIMEOUT\)\n$/,
  );
  const unknown = ctl(sock, "no-such-command");
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /CommandNotFound: The command no-such-command has not been found/);
  assert.equal(ctl(sock, "guestinfo-get", "key:=1").status, 1, "a wrong type is the server's error");
  assert.equal(ctl(sock, "guestinfo-get", "key").status, 2, "a malformed argument is a usage error");
  assert.equal(ctl(sock, "watch", "NO_SUCH_EVENT").status, 2);
  const gone = ctl(join(dir, "nothing.sock"), "query-status");
  assert.equal(gone.status, 3);
  assert.match(gone.stderr, /^vmport: ctl: cannot reach .*nothing\.sock: .*ENOENT/);

  run.stdin.write("rpc log \x1b[31mred\x1b[0m\nrpc info-set guestinfo.ready 1\n");
  for (let i = 0; i < 200 && !out.includes("reply [1 ]\nreply [1 ]"); i++) await new Promise((r) => setTimeout(r, 50));
  const guest = ctl(sock, "query-guest");
  assert.equal(guest.status, 0, guest.stderr);
  assert.match(guest.stdout, /^program: running; \d+ backdoor calls\n/);
  assert.match(guest.stdout, /^guestinfo: 2 keys$/m);
  assert.match(guest.stdout, /^log: 1 lines \(last: \\x1b\[31mred\\x1b\[0m\)$/m);
  run.stdin.write("exit 4\n");
  assert.equal(await ended, 4, err);
  assert.equal(await watchEnded, 0, "watch ends after SHUTDOWN");
  const lines = watched.trim().split("\n");
  assert.match(lines.find((l) => l.includes("GUEST_LOG"))!, /Z GUEST_LOG \\x1b\[31mred\\x1b\[0m$/);
  assert.ok(
    lines.some((l) => /GUEST_CHANGED guestinfo\[guestinfo\.ready\] = "1"$/.test(l)),
    watched,
  );
  assert.ok(!lines.some((l) => l.includes("SHUTDOWN")), "watch prints only the events asked for");
  assert.equal(existsSync(sock), false, "the socket is removed at exit");
  const after = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "ctl", sock, "query-status"], {
    encoding: "utf8",
  });
  assert.equal(after.status, 3);
});

test("--control misuse is one vmport: line and exit 2 before the program runs", { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), "vmport-ctlbad-"));
  for (const p of [join(dir, "missing", "s.sock"), join(dir, "x".repeat(120)), dir]) {
    const r = vmport(["run", "--control", p, "--", "true"]);
    assert.equal(r.status, 2, p);
    assert.match(r.stderr, /^vmport: --control [^\n]+\n$/);
  }
});
