/**
 * The web console of `vmport run --console`: one page on 127.0.0.1 that shows the simulated host live — the program,
 * what its tools reported, guestinfo, TCLO commands and their results, every backdoor call, the guest log — and
 * steers it (guestinfo edits, TCLO commands, the absolute pointer).
 *
 * Emulates: the part of the vSphere client an administrator looks at for one VM.
 * Security (the console drives a process on this machine, maybe as root):
 * - it listens on 127.0.0.1 only;
 * - every request must carry the token (128 bits from a CSPRNG) as `?token=` or as the HttpOnly, SameSite=Strict
 *   cookie the first load sets; anything else gets 401 and no data;
 * - the Host header must name the loopback address and port, and an Origin header, when present, too (against DNS
 *   rebinding); requests that change anything must carry such an Origin;
 * - the page's Content-Security-Policy allows nothing from outside and no inline script; guest text is only ever
 *   put into the page as text (`textContent`), never as HTML;
 * - dangerous TCLO commands (`channels/tclo-safety.ts`) are refused unless vmport was started with
 *   `--allow-dangerous-tclo`, and then need `confirm: true` (the page asks).
 * Bounds: at most {@link CONSOLE_MAX_CLIENTS} event streams; each buffers at most {@link CONSOLE_QUEUE_MAX} events
 * (then the oldest are dropped and the client is told how many); request bodies at most {@link CONSOLE_MAX_BODY}.
 * Backdoor-call records are only asked for while a page is connected (`wantCalls`), so a console nobody looks at
 * costs the traps nothing.
 * Source of truth: RFC 6265bis (SameSite), the WHATWG HTML server-sent events format, `docs/console.md`.
 * Does not: serve anything but the one page and its API; keep history for a client that connects late beyond
 * what {@link ConsoleSource} remembers (the model, guestinfo, the last log lines, the counters).
 */
import { Hono, type Context } from "hono";
import { streamSSE } from "hono/streaming";
import { getCookie, setCookie } from "hono/cookie";
import { serve, type ServerType } from "@hono/node-server";
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { AddressInfo } from "node:net";
import { tcloDanger } from "../../channels/tclo-safety.js";
import { CONSOLE_CSS, CONSOLE_HTML, CONSOLE_JS } from "./page.js";

/** Event streams open at once; more are refused with 503. */
export const CONSOLE_MAX_CLIENTS = 16;
/** Events buffered per stream before the oldest are dropped. */
export const CONSOLE_QUEUE_MAX = 20_000;
/** Largest request body accepted (a guestinfo value is at most 64 KiB). */
export const CONSOLE_MAX_BODY = 256 * 1024;
/** Backdoor-call records are sent in batches at most this often. */
export const CONSOLE_BATCH_MS = 100;

/** One backdoor call, as the console shows it. */
export interface ConsoleCall {
  /** Milliseconds since the epoch. */
  t: number;
  /** Thread id (vCPU). */
  vcpu: number;
  /** Backdoor command, or null when none ran (a fault, HB transfer). */
  command: number | null;
  /** Message type (ECX high) for command 30, else null. */
  subcommand: number | null;
  /** The port accessed, or null (RDPMC, no decode). */
  port: number | null;
  /** Mnemonic (`in`, `out`, `ins`, `outs`, `rdpmc`), or null. */
  op: string | null;
  /** `completed`, `partial`, `fault`, `unsupported` or `nested-exit`. */
  outcome: string;
}

/** Program, pid and state, as the page's header shows them. */
export interface ConsoleStatus {
  /** The program and its arguments. */
  argv: string[];
  /** 0 until the program has started. */
  pid: number;
  /** When the program started, ms since the Unix epoch. */
  startedAtMs: number;
  /** True until the program has exited. */
  running: boolean;
  /** The program's exit status once it exited normally, else null. */
  exitStatus: number | null;
  /** The signal that ended the program, else null. */
  signal: number | null;
}

/** What the page shows at a load or after a change. */
export interface ConsoleSnapshot {
  /** Program, pid and state. */
  status: ConsoleStatus;
  /** The guest model (the `--report` model's `guest`). */
  guest: object;
  /** guestinfo as text, by key (with its `guestinfo.` prefix). */
  guestinfo: Record<string, string>;
  /** Counters by component. */
  counters: object;
  /** The newest guest log lines. */
  log: string[];
}

/** What the console needs from a running session (`session-source.ts` adapts a `vmport/host` session). */
export interface ConsoleSource {
  /** The current state, for a page load. */
  snapshot(): Promise<ConsoleSnapshot>;
  /** Set guestinfo `key` (prefix optional) to `value`. */
  setGuestinfo(key: string, value: string): Promise<void>;
  /** Delete guestinfo `key`. */
  deleteGuestinfo(key: string): Promise<void>;
  /** Send a TCLO command; resolves with the guest's result, rejects after `timeoutMs` ms of VM time. */
  tclo(command: string, timeoutMs: number): Promise<{ ok: boolean; text: string }>;
  /** Queue an absolute pointer event: x, y in 0…0xFFFF, vmmouse button bits, wheel delta. */
  mouse(x: number, y: number, buttons: number, wheel: number): Promise<void>;
  /** Subscribe; returns the unsubscribe function. `calls` may arrive one by one or in batches. */
  subscribe(l: ConsoleListener): () => void;
  /** Told true when the first page connects and false when the last one leaves: produce `calls` only then. */
  wantCalls?(want: boolean): void;
}

/** Events the console forwards to its pages. */
export interface ConsoleListener {
  /** A field of the guest model changed. */
  guestChanged?(field: string): void;
  /** The guest logged a line (RPCI `log`). */
  log?(line: string): void;
  /** A TCLO command's result arrived. */
  tcloResult?(command: string, ok: boolean, text: string): void;
  /** Backdoor calls, in order. */
  calls?(batch: ConsoleCall[]): void;
  /** Backdoor calls the host could not keep up with and dropped before they reached the console: counted. */
  callsDropped?(count: number): void;
  /** The program exited (status, or the signal that ended it). */
  exited?(exitStatus: number, signal: number | null): void;
}

/** Options of {@link startConsole}. */
export interface ConsoleOptions {
  /** The session the console drives. */
  source: ConsoleSource;
  /** TCP port on 127.0.0.1; 0: any free port. */
  port: number;
  /** Serve dangerous TCLO commands (after the page's confirmation). */
  allowDangerousTclo: boolean;
}

/** A running console. */
export interface ConsoleHandle {
  /** `http://127.0.0.1:PORT/?token=TOKEN`. */
  url: string;
  /** The TCP port it listens on (127.0.0.1). */
  port: number;
  /** The access token (128 bits from a CSPRNG); a request without it is refused. */
  token: string;
  /** Send the final events and stop listening. */
  close(): Promise<void>;
}

type SseEvent = { event: string; data: string };

/** One connected event stream: a bounded queue drained by its writer. */
class Client {
  readonly queue: SseEvent[] = [];
  dropped = 0;
  wake: (() => void) | null = null;
  /** The console is closing: write what is queued, then end. */
  closed = false;
  /** The page went away. */
  aborted = false;
  done: () => void = () => {};
  /** Resolves when the writer has ended. */
  readonly ended = new Promise<void>((r) => (this.done = r));
  push(e: SseEvent): void {
    if (this.closed) return;
    if (this.queue.length >= CONSOLE_QUEUE_MAX) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(e);
    this.wake?.();
  }
}

const COOKIE = "vmport_console";

function sameToken(a: string | undefined, token: Buffer): boolean {
  if (a === undefined) return false;
  const b = Buffer.from(a);
  return b.length === token.length && timingSafeEqual(b, token);
}

/** Requests pass Host/Origin checks (DNS rebinding) first, then the token; then the page and its assets are served. */
function guardAndServePage(app: Hono, token: string, port: () => number): void {
  const tokenBytes = Buffer.from(token);
  const loopbackHosts = () => new Set([`127.0.0.1:${port()}`, `localhost:${port()}`]);
  const loopbackOrigins = () => new Set([`http://127.0.0.1:${port()}`, `http://localhost:${port()}`]);
  // Nothing else runs for a refused request.
  app.use("*", async (c, next) => {
    const host = c.req.header("host");
    if (host === undefined || !loopbackHosts().has(host)) return c.text("forbidden host", 403);
    const origin = c.req.header("origin");
    if (origin !== undefined && !loopbackOrigins().has(origin)) return c.text("forbidden origin", 403);
    if (c.req.method !== "GET" && origin === undefined) return c.text("origin required", 403);
    const q = c.req.query("token");
    const fromQuery = sameToken(q, tokenBytes);
    if (!fromQuery && !sameToken(getCookie(c, COOKIE), tokenBytes)) return c.text("unauthorized", 401);
    if (fromQuery) setCookie(c, COOKIE, token, { httpOnly: true, sameSite: "Strict", path: "/" });
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("Cache-Control", "no-store");
    await next();
  });

  app.get("/", (c) => {
    c.header(
      "Content-Security-Policy",
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    return c.html(CONSOLE_HTML);
  });
  app.get("/favicon.ico", (c) => c.body(null, 204));
  app.get("/app.js", (c) => c.body(CONSOLE_JS, 200, { "Content-Type": "text/javascript; charset=utf-8" }));
  app.get("/app.css", (c) => c.body(CONSOLE_CSS, 200, { "Content-Type": "text/css; charset=utf-8" }));
}

/** The request body as a JSON object, or null (too long, not JSON, not an object). */
async function jsonBody(c: Context): Promise<Record<string, unknown> | null> {
  const len = Number(c.req.header("content-length") ?? "0");
  if (len > CONSOLE_MAX_BODY) return null;
  const text = await c.req.text();
  if (text.length > CONSOLE_MAX_BODY) return null;
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The string field `k` of `b` (own keys only), or null. */
function str(b: Record<string, unknown>, k: string): string | null {
  return Object.hasOwn(b, k) && typeof b[k] === "string" ? (b[k] as string) : null;
}

/** The JSON API: state, guestinfo, TCLO (dangerous commands refused or confirmed), mouse. */
function serveApi(app: Hono, o: ConsoleOptions): void {
  const body = jsonBody;
  app.get("/api/state", async (c) => c.json({ ...(await o.source.snapshot()), allowDangerousTclo: o.allowDangerousTclo }));
  app.post("/api/guestinfo", async (c) => {
    const b = await body(c);
    const key = b && str(b, "key");
    const value = b && str(b, "value");
    if (!key || value === null) return c.json({ error: "expected {key, value} strings" }, 400);
    try {
      await o.source.setGuestinfo(key, value);
    } catch (e) {
      return c.json({ error: (e as Error).message }, 400);
    }
    return c.json({ ok: true });
  });
  app.post("/api/guestinfo/delete", async (c) => {
    const b = await body(c);
    const key = b && str(b, "key");
    if (!key) return c.json({ error: "expected {key}" }, 400);
    try {
      await o.source.deleteGuestinfo(key);
    } catch (e) {
      return c.json({ error: (e as Error).message }, 400);
    }
    return c.json({ ok: true });
  });
  app.post("/api/tclo", async (c) => {
    const b = await body(c);
    const command = b && str(b, "command");
    if (!command) return c.json({ error: "expected {command}" }, 400);
    const danger = tcloDanger(command);
    if (danger !== null && !o.allowDangerousTclo)
      return c.json({ error: `refused: ${danger} (start vmport with --allow-dangerous-tclo to allow it)`, dangerous: true }, 403);
    if (danger !== null && b["confirm"] !== true) return c.json({ error: `confirm: ${danger}`, dangerous: true, needsConfirm: true }, 409);
    try {
      return c.json(await o.source.tclo(command, 30_000));
    } catch (e) {
      return c.json({ ok: false, text: (e as Error).message });
    }
  });
  app.post("/api/mouse", async (c) => {
    const b = await body(c);
    const n = (k: string, lo: number, hi: number): number | null => {
      const v = b && Object.hasOwn(b, k) ? b[k] : undefined;
      return typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi ? v : null;
    };
    const x = n("x", 0, 0xffff);
    const y = n("y", 0, 0xffff);
    const buttons = n("buttons", 0, 7) ?? 0;
    const wheel = n("wheel", -128, 127) ?? 0;
    if (x === null || y === null) return c.json({ error: "expected {x, y} in 0..65535" }, 400);
    try {
      await o.source.mouse(x, y, buttons, wheel);
    } catch (e) {
      return c.json({ error: (e as Error).message }, 400);
    }
    return c.json({ ok: true });
  });
}

/** `/api/events`: one SSE stream per page (at most {@link CONSOLE_MAX_CLIENTS}), each drained from its bounded queue. */
function serveEvents(app: Hono, clients: Set<Client>, o: ConsoleOptions): void {
  app.get("/api/events", (c) => {
    if (clients.size >= CONSOLE_MAX_CLIENTS) return c.text("too many event streams", 503);
    const client = new Client();
    clients.add(client);
    if (clients.size === 1) o.source.wantCalls?.(true);
    return streamSSE(c, async (stream) => {
      stream.onAbort(() => {
        client.closed = true;
        client.aborted = true;
        client.wake?.();
      });
      try {
        await stream.writeSSE({ event: "hello", data: JSON.stringify({ allowDangerousTclo: o.allowDangerousTclo }) });
        // Write until the stream is aborted, or until the console closes and everything queued has been written.
        while (!client.aborted) {
          if (client.queue.length === 0 && client.dropped === 0) {
            if (client.closed) break;
            await new Promise<void>((r) => (client.wake = r));
            client.wake = null;
            continue;
          }
          if (client.dropped > 0) {
            await stream.writeSSE({ event: "dropped", data: String(client.dropped) });
            client.dropped = 0;
          }
          const batch = client.queue.splice(0, client.queue.length);
          for (const e of batch) await stream.writeSSE(e);
        }
      } finally {
        clients.delete(client);
        if (clients.size === 0) o.source.wantCalls?.(false);
        client.done();
      }
    });
  });
}

/** Forward the session's events to every stream; backdoor calls are batched every {@link CONSOLE_BATCH_MS} ms. */
function broadcastEvents(clients: Set<Client>, source: ConsoleSource): { flush(): void; stop(): void } {
  const broadcast = (e: SseEvent) => {
    for (const cl of clients) cl.push(e);
  };
  let pending: ConsoleCall[] = [];
  let pendingDropped = 0;
  let timer: NodeJS.Timeout | null = null;
  const flushCalls = () => {
    timer = null;
    if (pendingDropped > 0) {
      for (const cl of clients) {
        cl.dropped += pendingDropped;
        cl.wake?.();
      }
      pendingDropped = 0;
    }
    if (pending.length === 0) return;
    const data = JSON.stringify(pending);
    pending = [];
    broadcast({ event: "calls", data });
  };
  const listener: ConsoleListener = {
    guestChanged: (field) => broadcast({ event: "guest", data: JSON.stringify({ field }) }),
    log: (line) => broadcast({ event: "log", data: JSON.stringify(line) }),
    tcloResult: (command, ok, text) => broadcast({ event: "tclo", data: JSON.stringify({ command, ok, text }) }),
    calls: (batch) => {
      if (clients.size === 0) return;
      for (const r of batch) {
        if (pending.length >= CONSOLE_QUEUE_MAX)
          pendingDropped++; // more than a page can follow: counted, not kept
        else pending.push(r);
      }
      timer ??= setTimeout(flushCalls, CONSOLE_BATCH_MS);
    },
    callsDropped: (count) => {
      if (clients.size === 0) return;
      pendingDropped += count;
      timer ??= setTimeout(flushCalls, CONSOLE_BATCH_MS);
    },
    exited: (exitStatus, signal) => {
      flushCalls();
      broadcast({ event: "exit", data: JSON.stringify({ exitStatus, signal }) });
    },
  };
  const unsubscribe = source.subscribe(listener);
  return {
    flush: flushCalls,
    stop: () => {
      unsubscribe();
      if (timer !== null) clearTimeout(timer);
    },
  };
}

/** Send the final events, let every stream write what it holds (at most 2 s), then stop listening. */
async function closeConsole(server: ServerType, clients: Set<Client>, events: { flush(): void; stop(): void }): Promise<void> {
  events.stop();
  events.flush();
  // Let every stream write what it holds (the exit event above all), then end them; at most 2 s.
  const writers = [...clients].map((cl) => cl.ended);
  for (const cl of clients) {
    cl.closed = true;
    cl.wake?.();
  }
  await Promise.race([Promise.all(writers), new Promise((r) => setTimeout(r, 2000))]);
  // Stop listening; ended streams finish sending, idle connections close; anything left after 1 s is cut.
  const srv = server as unknown as { closeIdleConnections?: () => void; closeAllConnections?: () => void };
  await new Promise<void>((r) => {
    server.close(() => r());
    setTimeout(() => srv.closeIdleConnections?.(), 50);
    setTimeout(() => srv.closeAllConnections?.(), 1000).unref();
  });
}

/** Start the console server; resolves once it listens. */
export async function startConsole(o: ConsoleOptions): Promise<ConsoleHandle> {
  const token = randomBytes(16).toString("hex");
  const clients = new Set<Client>();
  let port = 0;
  const app = new Hono();
  guardAndServePage(app, token, () => port);
  serveApi(app, o);
  serveEvents(app, clients, o);
  const events = broadcastEvents(clients, o.source);
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: o.port }, () => resolve(s));
    s.once("error", reject);
  });
  port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    close: () => {
      closing ??= closeConsole(server, clients, events);
      return closing;
    },
  };
}
