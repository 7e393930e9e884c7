/**
 * The control socket (`vmport run --control PATH`): a Unix socket speaking QMP, so QMP tooling (qmp-shell, the
 * `qemu.qmp` library, `socat`) drives a `vmport/host` session unchanged; several clients at once.
 *
 * Emulates: QEMU's QMP monitor (`docs/interop/qmp-spec.rst`): on connect the server sends
 * `{"QMP": {"version": …, "capabilities": []}}`; until the client sends `qmp_capabilities` only that command runs
 * (others: `CommandNotFound`) and no event is sent; then `{"execute", "arguments", "id"}` gets `{"return", "id"}`
 * or `{"error": {"class", "desc"}, "id"}`, in request order; events are
 * `{"event", "data", "timestamp": {"seconds", "microseconds"}}`. Output is ASCII (non-ASCII characters are
 * `\uXXXX` escapes) and every message ends in CRLF, as QEMU's.
 * Divergences: input is one JSON object per line (QEMU's parser is a stream; a client that writes one object per
 * line — every QMP client does — sees no difference); no single-quoted strings; no out-of-band execution.
 * Bounds, each named: {@link CONTROL_MAX_LINE_BYTES} per request line (longer: an error, the line is skipped, the
 * connection stays usable), {@link CONTROL_MAX_CLIENTS} clients (one more is told so and closed),
 * {@link CONTROL_MAX_PIPELINED} requests read ahead per client (then reading pauses, as QEMU's monitor does),
 * {@link CONTROL_MAX_OUTPUT_BYTES} unread output per client before reading pauses, {@link CONTROL_EVENT_QUEUE}
 * events queued per client while it does not read (when full the oldest is dropped; the client then gets one
 * `EVENTS_DROPPED {count}` before the rest), {@link CONTROL_SHUTDOWN_GRACE_MS} for clients to take `SHUTDOWN`.
 * Malformed JSON, an unknown command, a wrong argument: an error reply; nothing a client sends, and no client that
 * disconnects mid-request, affects the others.
 * The socket is made in a fresh private directory (mode 0700), set to mode 0600 and then renamed into place, so no
 * other user can connect even for an instant (and no process-wide umask is touched); it is removed when the server
 * closes. A stale socket left by a killed vmport is replaced, a live one is refused.
 * Source of truth: QEMU `docs/interop/qmp-spec.rst`; the README section "Control socket" (commands, events).
 * Does not: authenticate (the file mode is the access control), or listen on TCP.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { chmodSync, lstatSync, mkdtempSync, readFileSync, renameSync, rmdirSync, statSync, unlinkSync, type Stats } from "node:fs";
import { basename, dirname, join } from "node:path";
import { VmportError } from "../core/errors.js";
import { SystemClock } from "./system-clock.js";
import { checkWritableTarget } from "./state-file.js";
import { BROADCAST_EVENTS, QmpError, checkArgs, commandTable, qmpVersion, toQmpError, type CommandSpec } from "./qmp-commands.js";
import type { SessionExit, VmSession } from "./session.js";
import type { TraceRecord } from "../vm/trace.js";

/** Longest request line, in bytes (a 64 KiB guestinfo value, JSON-escaped, fits several times). */
export const CONTROL_MAX_LINE_BYTES = 1024 * 1024;
/** Clients connected at once. */
export const CONTROL_MAX_CLIENTS = 64;
/** Requests read ahead of the one running, per client; then the server stops reading from that client. */
export const CONTROL_MAX_PIPELINED = 16;
/** Output a client has not read, in bytes, beyond which the server stops reading its requests. */
export const CONTROL_MAX_OUTPUT_BYTES = 4 * 1024 * 1024;
/** Output waiting in a client's socket, in bytes, beyond which new events wait in its queue instead. */
export const CONTROL_EVENT_HIGH_WATER = 256 * 1024;
/** Events waiting per client while it does not read; when full the oldest is dropped (then `EVENTS_DROPPED`). */
export const CONTROL_EVENT_QUEUE = 1024;
/** Time clients get to read `SHUTDOWN` before the server closes their connections, in ms. */
export const CONTROL_SHUTDOWN_GRACE_MS = 2000;
/** Longest socket path, in bytes (`sun_path` holds 108 with its NUL). */
export const CONTROL_MAX_PATH_BYTES = 107;
/** The private directory the socket is made in before it is renamed into place (`mkdtemp` adds 6 characters). */
const TEMP_PREFIX = ".vmport-";
/** Bytes the private directory and the socket's temporary name add to the directory's path. */
const TEMP_EXTRA_BYTES = 1 + TEMP_PREFIX.length + 6 + 2;
/** Deepest nesting accepted in a request's `id` (it is echoed back). */
const MAX_ID_DEPTH = 64;

/**
 * The BACKDOOR_CALL event line of a trace record: the same text {@link wire} gives, without its non-ASCII pass (a
 * record is ASCII: hex digits, names, numbers) — records come by the ten thousand per second.
 */
export function backdoorLine(r: TraceRecord): string {
  const t = r.timeNs.length > 9 ? r.timeNs : r.timeNs.padStart(10, "0");
  return `{"event":"BACKDOOR_CALL","data":${JSON.stringify(r)},"timestamp":{"seconds":${Number(t.slice(0, -9))},"microseconds":${Number(t.slice(-9, -3))}}}\r\n`;
}

/** QMP text: JSON with every non-ASCII character as a `\u` escape, ended by CRLF. */
export function wire(v: unknown): string {
  return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")) + "\r\n";
}

/** Nesting depth of a JSON value, stopping at `limit` + 1 (iterative: a hostile id cannot overflow the stack). */
function depthOver(v: unknown, limit: number): boolean {
  let level: unknown[] = [v];
  for (let d = 0; level.length > 0; d++) {
    if (d > limit) return true;
    const next: unknown[] = [];
    for (const x of level)
      if (typeof x === "object" && x !== null) for (const y of Object.values(x)) if (typeof y === "object" && y !== null) next.push(y);
    level = next;
  }
  return false;
}

/**
 * Check, before the program starts, that a control socket can be created at `path`: its directory exists and is
 * writable, the path fits `sun_path`, and nothing is there but a stale socket (removed here).
 * @throws VmportError VMPORT_BAD_ARGUMENT naming the problem
 */
export async function prepareControlPath(path: string): Promise<void> {
  const what = "--control";
  if (Buffer.byteLength(path) > CONTROL_MAX_PATH_BYTES)
    throw new VmportError("VMPORT_BAD_ARGUMENT", `${what} ${path}: longer than ${CONTROL_MAX_PATH_BYTES} bytes (a Unix socket path)`);
  if (Buffer.byteLength(dirname(path)) + TEMP_EXTRA_BYTES > CONTROL_MAX_PATH_BYTES) {
    throw new VmportError(
      "VMPORT_BAD_ARGUMENT",
      `${what} ${path}: its directory's path is longer than ${CONTROL_MAX_PATH_BYTES - TEMP_EXTRA_BYTES} bytes (the socket is made in a private directory there first)`,
    );
  }
  if (basename(path) === "") throw new VmportError("VMPORT_BAD_ARGUMENT", `${what} ${path}: not a file name`);
  checkWritableTarget(path, what, { regularOnly: false });
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch {
    return; // nothing there
  }
  if (!st.isSocket()) throw new VmportError("VMPORT_BAD_ARGUMENT", `${what} ${path}: exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const c = createConnection(path);
    c.on("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.on("error", () => resolve(false));
  });
  if (live) throw new VmportError("VMPORT_BAD_ARGUMENT", `${what} ${path}: another server is listening there`);
  unlinkSync(path); // stale: left by a vmport that was killed
}

interface Client {
  socket: Socket;
  negotiated: boolean;
  /** Receives BACKDOOR_CALL. */
  backdoor: boolean;
  parts: Buffer[];
  partBytes: number;
  /** Skipping the rest of an over-long line. */
  discarding: boolean;
  /** Requests read and not yet run (a string, or null for an over-long line). */
  lines: (string | null)[];
  busy: boolean;
  events: string[];
  /** Events not delivered to this client and not announced yet, by kind (`client-queue`, `backdoor-call`, `events`). */
  dropped: Map<string, number>;
  /** A flush of `events` is scheduled (events go out in one write per batch, not one per event). */
  flushing: boolean;
  closed: boolean;
}

/** A control socket serving one session. */
export class ControlServer {
  private readonly clients = new Set<Client>();
  private readonly commands: Record<string, CommandSpec>;
  private readonly clock = new SystemClock();
  private backdoorClients = 0;
  private ino = -1;
  private shuttingDown = false;
  private closedResolve!: () => void;
  /** Resolves when the server has sent `SHUTDOWN`, closed every connection and removed the socket. */
  readonly closed: Promise<void>;

  private readonly onGuestChange = (c: { field: string; key?: string; value: unknown }): void =>
    this.broadcast(
      "GUEST_CHANGED",
      c.key === undefined ? { field: c.field, value: c.value } : { field: c.field, key: c.key, value: c.value },
    );
  private readonly onGuestLog = (line: string): void => this.broadcast("GUEST_LOG", { line });
  private readonly onTclo = (r: { command: string; internal: boolean; outcome: string; ok: boolean; text: string }): void =>
    this.broadcast("TCLO_RESULT", { command: r.command, internal: r.internal, outcome: r.outcome, ok: r.ok, text: r.text });
  private readonly onBackdoor = (r: TraceRecord): void => {
    const line = backdoorLine(r);
    for (const c of this.clients) if (c.backdoor) this.queueEvent(c, line);
  };
  /** Events the session dropped: counted per client (never a queued line that could itself be dropped). */
  private readonly onDropped = (d: { kind: string; count: number }): void => {
    for (const c of this.clients) if (c.negotiated && (d.kind !== "backdoor-call" || c.backdoor)) this.countDropped(c, d.kind, d.count);
  };
  private readonly onExit = (e: SessionExit): void => void this.shutdown(e);

  private constructor(
    private readonly session: VmSession,
    /** The socket's path. */
    readonly path: string,
    private readonly server: Server,
  ) {
    this.commands = commandTable(() => readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    this.closed = new Promise((r) => (this.closedResolve = r));
    server.on("connection", (s) => this.accept(s));
    session.on("exit", this.onExit);
  }

  /**
   * Serve `session` on a new Unix socket at `path` (call {@link prepareControlPath} first). The server sends
   * `SHUTDOWN` and closes by itself when the program exits.
   */
  static async listen(session: VmSession, path: string): Promise<ControlServer> {
    const server = createServer({ allowHalfOpen: false, pauseOnConnect: false });
    const cs = new ControlServer(session, path, server);
    const dir = mkdtempSync(join(dirname(path), TEMP_PREFIX)); // mode 0700: nobody else reaches the socket in it
    const temp = join(dir, "s");
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(temp, () => resolve());
      });
      chmodSync(temp, 0o600);
      renameSync(temp, path);
    } catch (e) {
      session.off("exit", cs.onExit);
      server.close();
      throw e;
    } finally {
      try {
        unlinkSync(temp);
      } catch {
        // renamed into place (or never made)
      }
      rmdirSync(dir);
    }
    cs.ino = statSync(path).ino;
    if (!session.running) await cs.shutdown(await session.exited);
    return cs;
  }

  /** Clients connected now. */
  get clientCount(): number {
    return this.clients.size;
  }

  private eventLine(event: string, data: object): string {
    const ns = this.clock.realtimeNs();
    return wire({ event, data, timestamp: { seconds: Number(ns / 1_000_000_000n), microseconds: Number((ns % 1_000_000_000n) / 1000n) } });
  }

  private broadcast(event: string, data: object): void {
    if (this.clients.size === 0) return;
    const line = this.eventLine(event, data);
    for (const c of this.clients) this.queueEvent(c, line);
  }

  /** Session listeners exist only while a negotiated client does (and backdoor calls only while one subscribed). */
  private updateListeners(): void {
    const any = [...this.clients].some((c) => c.negotiated) && !this.shuttingDown;
    for (const [ev, fn] of [
      ["guest-change", this.onGuestChange],
      ["guest-log", this.onGuestLog],
      ["tclo-result", this.onTclo],
      ["events-dropped", this.onDropped],
    ] as const) {
      if (any) this.session.on(ev, fn as never);
      else this.session.off(ev, fn as never);
    }
    if (this.backdoorClients > 0 && !this.shuttingDown) this.session.on("backdoor-call", this.onBackdoor);
    else this.session.off("backdoor-call", this.onBackdoor);
  }

  private accept(socket: Socket): void {
    if (this.shuttingDown) {
      socket.destroy();
      return;
    }
    socket.on("error", () => {}); // a client that vanishes is just gone
    if (this.clients.size >= CONTROL_MAX_CLIENTS) {
      socket.end(wire({ error: { class: "GenericError", desc: `too many clients (at most ${CONTROL_MAX_CLIENTS})` } }));
      return;
    }
    const c: Client = {
      socket,
      negotiated: false,
      backdoor: false,
      parts: [],
      partBytes: 0,
      discarding: false,
      lines: [],
      busy: false,
      events: [],
      dropped: new Map(),
      flushing: false,
      closed: false,
    };
    this.clients.add(c);
    socket.write(
      wire({ QMP: { version: qmpVersion(() => readFileSync(new URL("../../package.json", import.meta.url), "utf8")), capabilities: [] } }),
    );
    socket.on("data", (chunk: Buffer) => this.read(c, chunk));
    socket.on("drain", () => this.drain(c));
    socket.on("close", () => this.drop(c));
  }

  private drop(c: Client): void {
    if (c.closed) return;
    c.closed = true;
    c.lines = [];
    c.events = [];
    this.clients.delete(c);
    if (c.backdoor) this.backdoorClients--;
    c.backdoor = false;
    this.updateListeners();
  }

  /** Split input into lines, bounded; queue them. */
  private read(c: Client, chunk: Buffer): void {
    let start = 0;
    while (start <= chunk.length) {
      const nl = chunk.indexOf(10, start);
      const end = nl < 0 ? chunk.length : nl;
      if (!c.discarding) {
        if (c.partBytes + (end - start) > CONTROL_MAX_LINE_BYTES) {
          c.discarding = true;
          c.parts = [];
          c.partBytes = 0;
          c.lines.push(null);
        } else if (end > start) {
          c.parts.push(chunk.subarray(start, end));
          c.partBytes += end - start;
        }
      }
      if (nl < 0) break;
      if (!c.discarding) {
        const line = Buffer.concat(c.parts).toString("utf8");
        if (line.trim() !== "") c.lines.push(line);
      }
      c.parts = [];
      c.partBytes = 0;
      c.discarding = false;
      start = nl + 1;
    }
    if (c.lines.length > CONTROL_MAX_PIPELINED) c.socket.pause();
    this.pump(c);
  }

  /** Run the next request of `c` if none is running. */
  private pump(c: Client): void {
    while (!c.busy && !c.closed && c.lines.length > 0) {
      const line = c.lines.shift()!;
      const r = this.request(c, line);
      if (r === null) continue;
      c.busy = true;
      void r.then(() => {
        c.busy = false;
        this.pump(c);
      });
    }
    if (!c.closed && c.lines.length <= CONTROL_MAX_PIPELINED && c.socket.writableLength <= CONTROL_MAX_OUTPUT_BYTES && c.socket.isPaused())
      c.socket.resume();
  }

  private reply(c: Client, v: object): void {
    if (c.closed) return;
    let text: string;
    try {
      text = wire(v);
    } catch (e) {
      text = wire({ error: { class: "GenericError", desc: `reply not serialisable: ${(e as Error).message}` } });
    }
    c.socket.write(text);
    if (c.socket.writableLength > CONTROL_MAX_OUTPUT_BYTES) c.socket.pause(); // it does not read: stop reading it
  }

  private error(c: Client, e: QmpError, id: { id?: unknown }): void {
    this.reply(c, { error: { class: e.errorClass, desc: e.message }, ...id });
  }

  /** Handle one request line; returns the running command's promise, or null when answered at once. */
  private request(c: Client, line: string | null): Promise<void> | null {
    if (line === null) {
      this.error(c, new QmpError("GenericError", `request line longer than ${CONTROL_MAX_LINE_BYTES} bytes: skipped`), {});
      return null;
    }
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch (e) {
      this.error(c, new QmpError("GenericError", `JSON parse error, ${(e as Error).message}`), {});
      return null;
    }
    if (typeof msg !== "object" || msg === null || Array.isArray(msg)) {
      this.error(c, new QmpError("GenericError", "QMP input must be a JSON object"), {});
      return null;
    }
    const m = msg as Record<string, unknown>;
    let id: { id?: unknown } = {};
    if (Object.hasOwn(m, "id")) {
      if (depthOver(m["id"], MAX_ID_DEPTH)) {
        this.error(c, new QmpError("GenericError", `QMP input member 'id' is nested deeper than ${MAX_ID_DEPTH}`), {});
        return null;
      }
      id = { id: m["id"] };
    }
    try {
      if (Object.hasOwn(m, "exec-oob"))
        throw new QmpError("GenericError", "QMP input member 'exec-oob': out-of-band execution is not supported");
      for (const k of Object.keys(m))
        if (k !== "execute" && k !== "arguments" && k !== "id") throw new QmpError("GenericError", `QMP input member '${k}' is unexpected`);
      if (!Object.hasOwn(m, "execute")) throw new QmpError("GenericError", "QMP input lacks member 'execute'");
      const name = m["execute"];
      if (typeof name !== "string") throw new QmpError("GenericError", "QMP input member 'execute' must be a string");
      const argsIn = Object.hasOwn(m, "arguments") ? m["arguments"] : {};
      if (typeof argsIn !== "object" || argsIn === null || Array.isArray(argsIn))
        throw new QmpError("GenericError", "QMP input member 'arguments' must be an object");
      const args = argsIn as Record<string, unknown>;
      if (name === "qmp_capabilities") {
        if (c.negotiated) throw new QmpError("CommandNotFound", "Capabilities negotiation is already complete, command ignored");
        checkArgs({ enable: { type: "string[]", optional: true } }, args);
        const cap = (args["enable"] as string[] | undefined)?.[0];
        if (cap !== undefined) throw new QmpError("GenericError", `Capability '${cap}' not available`);
        c.negotiated = true;
        this.updateListeners();
        this.reply(c, { return: {}, ...id });
        return null;
      }
      if (!c.negotiated) throw new QmpError("CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'");
      const spec = Object.hasOwn(this.commands, name) ? this.commands[name]! : undefined;
      if (spec === undefined) throw new QmpError("CommandNotFound", `The command ${name} has not been found`);
      checkArgs(spec.args, args);
      return spec.run({ session: this.session, args, subscribe: (events) => this.subscribe(c, events) }).then(
        (ret) => this.reply(c, { return: ret ?? {}, ...id }),
        (e: unknown) => this.error(c, toQmpError(e), id),
      );
    } catch (e) {
      this.error(c, toQmpError(e), id);
      return null;
    }
  }

  private subscribe(c: Client, events: string[]): string[] {
    const want = events.includes("BACKDOOR_CALL");
    if (want !== c.backdoor && !c.closed) {
      c.backdoor = want;
      this.backdoorClients += want ? 1 : -1;
      this.updateListeners();
    }
    return [...BROADCAST_EVENTS, ...(c.backdoor ? ["BACKDOOR_CALL"] : [])];
  }

  /**
   * Queue an event line for `c` (bounded: when full the oldest is dropped and counted); the queue goes out in one
   * write after the current batch of events, as far as the socket takes it.
   */
  private queueEvent(c: Client, line: string): void {
    if (!c.negotiated || c.closed) return;
    if (c.events.length >= CONTROL_EVENT_QUEUE) {
      c.events.shift();
      c.dropped.set("client-queue", (c.dropped.get("client-queue") ?? 0) + 1);
    }
    c.events.push(line);
    this.scheduleFlush(c);
  }

  private countDropped(c: Client, kind: string, n: number): void {
    if (c.closed) return;
    c.dropped.set(kind, (c.dropped.get(kind) ?? 0) + n);
    this.scheduleFlush(c);
  }

  private scheduleFlush(c: Client): void {
    if (c.flushing) return;
    c.flushing = true;
    setImmediate(() => this.flush(c));
  }

  /** One EVENTS_DROPPED per kind still to announce (then forgotten). */
  private droppedLines(c: Client): string {
    let out = "";
    for (const [kind, count] of c.dropped) out += this.eventLine("EVENTS_DROPPED", { count, kind });
    c.dropped.clear();
    return out;
  }

  /** Write what waits for `c` while its socket holds less than the high-water mark; first how many were dropped. */
  private flush(c: Client): void {
    c.flushing = false;
    if (c.closed || (c.events.length === 0 && c.dropped.size === 0) || c.socket.writableLength >= CONTROL_EVENT_HIGH_WATER) return;
    let out = this.droppedLines(c);
    let k = 0;
    let bytes = c.socket.writableLength + out.length;
    while (k < c.events.length && bytes < CONTROL_EVENT_HIGH_WATER) bytes += c.events[k++]!.length;
    out += c.events.slice(0, k).join("");
    c.events.splice(0, k);
    c.socket.write(out);
  }

  /** The client read some output: send what waits, resume reading. */
  private drain(c: Client): void {
    if (c.closed) return;
    this.flush(c);
    this.pump(c);
  }

  /**
   * Send `SHUTDOWN {exit-status, signal, signal-name}` to every negotiated client (after the events it still had
   * queued), close every connection (after {@link CONTROL_SHUTDOWN_GRACE_MS} at most) and remove the socket.
   */
  async shutdown(exit: SessionExit): Promise<void> {
    if (this.shuttingDown) return this.closed;
    this.shuttingDown = true;
    this.session.off("exit", this.onExit);
    this.updateListeners();
    const line = this.eventLine("SHUTDOWN", { "exit-status": exit.status, signal: exit.signal, "signal-name": exit.signalName });
    const ends: Promise<void>[] = [];
    for (const c of this.clients) {
      if (c.negotiated) {
        const out = this.droppedLines(c) + c.events.join("") + line;
        c.events = [];
        c.socket.write(out);
      }
      ends.push(new Promise((r) => c.socket.once("close", () => r())));
      c.socket.end();
    }
    const grace = new Promise<void>((r) => setTimeout(r, CONTROL_SHUTDOWN_GRACE_MS).unref());
    await Promise.race([Promise.all(ends), grace]);
    for (const c of this.clients) c.socket.destroy();
    await this.close();
  }

  /** Stop serving without `SHUTDOWN` (the program may still run): close every connection, remove the socket. */
  async close(): Promise<void> {
    this.shuttingDown = true;
    this.session.off("exit", this.onExit);
    this.updateListeners();
    for (const c of this.clients) c.socket.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
    try {
      if (statSync(this.path).ino === this.ino) unlinkSync(this.path); // Node removes it; make sure, if it is ours
    } catch {
      // gone already
    }
    this.closedResolve();
  }
}
