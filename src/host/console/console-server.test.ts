/**
 * The console server's security and API over real HTTP, with a scripted source: the token on every route (page,
 * API, event stream), the DNS-rebinding guard, loopback only, the dangerous-TCLO rule, bounded bodies, events.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { networkInterfaces } from "node:os";
import { connect } from "node:net";
import { startConsole, type ConsoleCall, type ConsoleListener, type ConsoleSource } from "./console-server.js";

/** A source that records what the console asked and lets the test emit events. */
function fakeSource() {
  const listeners = new Set<ConsoleListener>();
  const gi: Record<string, string> = { "guestinfo.a": "1" };
  const sent: string[] = [];
  const source: ConsoleSource = {
    snapshot: async () => ({
      status: { argv: ["prog", "x"], pid: 42, startedAtMs: Date.now(), running: true, exitStatus: null, signal: null },
      guest: { toolsRunning: true, toolsVersion: 12352, hostname: "<script>alert(1)</script>", nics: [], disks: [] },
      guestinfo: { ...gi },
      counters: { intercept: { gpExits: 3 } },
      log: ["\x1b[2Jline"],
    }),
    setGuestinfo: async (k, v) => {
      gi[k.startsWith("guestinfo.") ? k : `guestinfo.${k}`] = v;
    },
    deleteGuestinfo: async (k) => void delete gi[k],
    tclo: async (c) => {
      sent.push(c);
      return { ok: true, text: "" };
    },
    mouse: async () => {},
    subscribe: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  return { source, listeners, gi, sent };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function http(
  port: number,
  path: string,
  o: { method?: string; headers?: Record<string, string>; body?: string | undefined; host?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path, method: o.method ?? "GET", headers: { host: o.host ?? `127.0.0.1:${port}`, ...o.headers } },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => {
          body += d.toString();
          if (res.headers["content-type"]?.includes("event-stream")) {
            res.destroy();
            resolve({ status: res.statusCode!, headers: res.headers, body });
          }
        });
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
}

test("no token: 401 and no data on every route; the token in the query sets an HttpOnly SameSite=Strict cookie", async () => {
  const f = fakeSource();
  const c = await startConsole({ source: f.source, port: 0, allowDangerousTclo: false });
  try {
    for (const [path, method] of [
      ["/", "GET"],
      ["/app.js", "GET"],
      ["/api/state", "GET"],
      ["/api/events", "GET"],
      ["/api/guestinfo", "POST"],
      ["/api/tclo", "POST"],
      ["/api/mouse", "POST"],
      ["/?token=" + "0".repeat(32), "GET"],
    ] as const) {
      const r = await http(c.port, path, {
        method,
        headers: method === "POST" ? { origin: `http://127.0.0.1:${c.port}`, "content-type": "application/json" } : {},
        body: method === "POST" ? '{"key":"x","value":"y","command":"ping","x":1,"y":1}' : undefined,
      });
      assert.equal(r.status, 401, `${method} ${path}`);
      assert.doesNotMatch(r.body, /guestinfo|toolsVersion|42/);
    }
    assert.equal(f.sent.length, 0);
    assert.equal(f.gi["guestinfo.x"], undefined);
    const page = await http(c.port, `/?token=${c.token}`);
    assert.equal(page.status, 200);
    const cookie = String(page.headers["set-cookie"]);
    assert.match(cookie, /vmport_console=[0-9a-f]{32}/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(String(page.headers["content-security-policy"]), /default-src 'none'; script-src 'self'/);
    const withCookie = await http(c.port, "/api/state", { headers: { cookie: `vmport_console=${c.token}` } });
    assert.equal(withCookie.status, 200);
    assert.equal(JSON.parse(withCookie.body).status.pid, 42);
    assert.match(c.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32}$/);
  } finally {
    await c.close();
  }
});

test("DNS rebinding: a foreign Host or Origin is refused even with the token; changes need a loopback Origin", async () => {
  const f = fakeSource();
  const c = await startConsole({ source: f.source, port: 0, allowDangerousTclo: false });
  try {
    const auth = { cookie: `vmport_console=${c.token}` };
    assert.equal((await http(c.port, "/api/state", { headers: auth, host: `evil.example:${c.port}` })).status, 403);
    assert.equal((await http(c.port, "/api/state", { headers: auth, host: "127.0.0.1:1" })).status, 403);
    assert.equal((await http(c.port, "/api/state", { headers: { ...auth, origin: "http://evil.example" } })).status, 403);
    const post = (origin?: string) =>
      http(c.port, "/api/guestinfo", {
        method: "POST",
        headers: { ...auth, "content-type": "application/json", ...(origin ? { origin } : {}) },
        body: '{"key":"k","value":"v"}',
      });
    assert.equal((await post()).status, 403);
    assert.equal((await post("http://evil.example")).status, 403);
    assert.equal(f.gi["guestinfo.k"], undefined);
    assert.equal((await post(`http://localhost:${c.port}`)).status, 200);
    assert.equal(f.gi["guestinfo.k"], "v");
  } finally {
    await c.close();
  }
});

test("nothing listens beyond 127.0.0.1", async () => {
  const f = fakeSource();
  const c = await startConsole({ source: f.source, port: 0, allowDangerousTclo: false });
  try {
    const others = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a !== undefined && a.family === "IPv4" && !a.internal)
      .map((a) => a!.address);
    for (const addr of others) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = connect({ host: addr, port: c.port }, () => {
          s.destroy();
          resolve(true);
        });
        s.on("error", () => resolve(false));
      });
      assert.equal(ok, false, `reachable on ${addr}`);
    }
  } finally {
    await c.close();
  }
});

test("dangerous TCLO commands: refused without --allow-dangerous-tclo; with it, only after confirmation", async () => {
  for (const allow of [false, true]) {
    const f = fakeSource();
    const c = await startConsole({ source: f.source, port: 0, allowDangerousTclo: allow });
    try {
      const send = (body: object) =>
        http(c.port, "/api/tclo", {
          method: "POST",
          headers: { cookie: `vmport_console=${c.token}`, origin: `http://127.0.0.1:${c.port}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      assert.equal((await send({ command: "ping" })).status, 200);
      for (const cmd of ["OS_Halt", "OS_Reboot", "Time_Synchronize", "vmbackup.start 1", "deployPkg.begin", "Vix_1_Relayed_Command"]) {
        const r = await send({ command: cmd });
        assert.equal(r.status, allow ? 409 : 403, cmd);
        if (allow) assert.equal((await send({ command: cmd, confirm: true })).status, 200);
      }
      assert.deepEqual(f.sent.filter((s) => s !== "ping").length, allow ? 6 : 0);
    } finally {
      await c.close();
    }
  }
});

test("bodies are bounded and typed; events reach a stream: guest changes, log, TCLO results, batched calls, calls the host dropped, exit", async () => {
  const f = fakeSource();
  const c = await startConsole({ source: f.source, port: 0, allowDangerousTclo: false });
  try {
    const h = { cookie: `vmport_console=${c.token}`, origin: `http://127.0.0.1:${c.port}`, "content-type": "application/json" };
    assert.equal((await http(c.port, "/api/guestinfo", { method: "POST", headers: h, body: "x".repeat(300_000) })).status, 400);
    assert.equal((await http(c.port, "/api/guestinfo", { method: "POST", headers: h, body: '{"key":1,"value":"v"}' })).status, 400);
    assert.equal((await http(c.port, "/api/mouse", { method: "POST", headers: h, body: '{"x":70000,"y":1}' })).status, 400);
    assert.equal(
      (await http(c.port, "/api/guestinfo", { method: "POST", headers: h, body: '{"__proto__":{"key":"k"},"value":"v"}' })).status,
      400,
    );
    // A stream, read raw.
    const events = await new Promise<string>((resolve, reject) => {
      let text = "";
      const req = request(
        { host: "127.0.0.1", port: c.port, path: "/api/events", headers: { host: `127.0.0.1:${c.port}`, cookie: h.cookie } },
        (res) => {
          res.on("data", (d: Buffer) => {
            text += d.toString();
            if (text.includes("event: hello") && !text.includes("event: exit")) {
              const call: ConsoleCall = { t: 1, vcpu: 7, command: 10, subcommand: null, port: 0x5658, op: "in", outcome: "completed" };
              for (const l of f.listeners) {
                l.guestChanged?.("hostname");
                l.log?.("a log line");
                l.tcloResult?.("ping", true, "");
                l.calls?.([call, call]);
                l.callsDropped?.(5); // the host's ring overflowed: counted, shown
                l.exited?.(0, null);
              }
            }
            if (text.includes("event: exit")) {
              res.destroy();
              resolve(text);
            }
          });
        },
      );
      req.on("error", reject);
      req.end();
    });
    assert.match(events, /event: guest\ndata: \{"field":"hostname"\}/);
    assert.match(events, /event: log\ndata: "a log line"/);
    assert.match(events, /event: tclo\ndata: \{"command":"ping","ok":true,"text":""\}/);
    assert.match(events, /event: calls\ndata: \[\{"t":1,"vcpu":7,"command":10/);
    assert.ok(events.indexOf("event: calls") < events.indexOf("event: exit"), "pending calls are flushed before the exit");
    assert.match(events, /event: dropped\ndata: 5\n/);
    assert.ok(events.indexOf("event: dropped") < events.indexOf("event: exit"), "calls the host dropped are told before the exit");
  } finally {
    await c.close();
  }
});
