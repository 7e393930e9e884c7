/**
 * A QMP client for vmport's control socket (and any QMP server): connect, negotiate, run commands, receive events.
 * `vmport ctl`, the tests and the benchmarks use it.
 *
 * Emulates: the client side of QEMU's `docs/interop/qmp-spec.rst`: read the greeting, send `qmp_capabilities`,
 * then `{"execute", "arguments", "id"}`; replies are matched by `id`; lines that carry `event` are events.
 * Bound: a server line longer than {@link QMP_CLIENT_MAX_LINE_BYTES} closes the connection with an error.
 * Does not: reconnect, or send several requests' bytes interleaved (one line per request).
 */
import { createConnection, type Socket } from "node:net";

/** Longest line accepted from the server, in bytes. */
export const QMP_CLIENT_MAX_LINE_BYTES = 64 * 1024 * 1024;

/** An event as the server sent it. */
export interface QmpEvent {
  /** The event's name (`GUEST_CHANGED`, `TCLO_RESULT`, `SHUTDOWN`, …). */
  event: string;
  /** The event's data, when it has any. */
  data?: Record<string, unknown>;
  /** When the server sent it (wall time, QMP's split seconds and microseconds). */
  timestamp: { seconds: number; microseconds: number };
}

/** An `error` reply. */
export class QmpReplyError extends Error {
  /** An error of class `errorClass` with the server's description `desc`. */
  constructor(
    /** The error class (`GenericError`, `CommandNotFound`, `DeviceNotFound`). */
    readonly errorClass: string,
    desc: string,
  ) {
    super(desc);
  }
}

/** The connection could not be made or was lost. */
export class QmpConnectionError extends Error {}

/** One connection. */
export class QmpClient {
  /** The server's greeting (`{QMP: {version, capabilities}}`). */
  greeting: Record<string, unknown> = {};
  private parts: Buffer[] = [];
  private partBytes = 0;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly eventListeners = new Set<(e: QmpEvent) => void>();
  private onGreeting: ((g: Record<string, unknown>) => void) | null = null;
  private closedResolve!: () => void;
  /** Resolves when the connection has closed. */
  readonly closed: Promise<void>;
  private error: Error | null = null;

  private constructor(private readonly socket: Socket) {
    this.closed = new Promise((r) => (this.closedResolve = r));
    socket.on("data", (chunk: Buffer) => this.read(chunk));
    socket.on("error", (e) => (this.error ??= new QmpConnectionError(e.message)));
    socket.on("close", () => {
      const e = this.error ?? new QmpConnectionError("the connection closed");
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
      this.closedResolve();
    });
  }

  /** Connect to the socket at `path`, read the greeting and (unless `negotiate` is false) negotiate capabilities. */
  static async connect(path: string, o: { negotiate?: boolean } = {}): Promise<QmpClient> {
    const socket = createConnection(path);
    const c = new QmpClient(socket);
    await new Promise<void>((resolve, reject) => {
      c.onGreeting = (g) => {
        c.greeting = g;
        resolve();
      };
      socket.once("error", (e) => reject(new QmpConnectionError(`${path}: ${e.message}`)));
      socket.once("close", () => reject(c.error ?? new QmpConnectionError(`${path}: closed before the greeting`)));
    });
    if (o.negotiate !== false) await c.execute("qmp_capabilities");
    return c;
  }

  /** Run `command`; resolves with its `return` value, rejects with {@link QmpReplyError} or a connection error. */
  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.socket.destroyed) return reject(this.error ?? new QmpConnectionError("not connected"));
      this.waiting.set(id, { resolve, reject });
      this.socket.write(JSON.stringify(args === undefined ? { execute: command, id } : { execute: command, arguments: args, id }) + "\n");
    });
  }

  /** Send raw bytes (tests: malformed input). */
  writeRaw(data: string | Uint8Array): void {
    this.socket.write(data);
  }

  /** Listen to events. */
  onEvent(listener: (e: QmpEvent) => void): void {
    this.eventListeners.add(listener);
  }

  /** Close the connection. */
  close(): Promise<void> {
    this.socket.end();
    return this.closed;
  }

  /** Close at once. */
  destroy(): void {
    this.socket.destroy();
  }

  private read(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      const end = nl < 0 ? chunk.length : nl;
      this.parts.push(chunk.subarray(start, end));
      this.partBytes += end - start;
      if (this.partBytes > QMP_CLIENT_MAX_LINE_BYTES) {
        this.error = new QmpConnectionError(`a server line longer than ${QMP_CLIENT_MAX_LINE_BYTES} bytes`);
        this.socket.destroy();
        return;
      }
      if (nl < 0) return;
      const line = Buffer.concat(this.parts).toString("utf8").trim();
      this.parts = [];
      this.partBytes = 0;
      start = nl + 1;
      if (line !== "") this.message(line);
    }
  }

  private message(line: string): void {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.error = new QmpConnectionError(`the server sent a line that is not JSON: ${line.slice(0, 80)}`);
      this.socket.destroy();
      return;
    }
    if (typeof m !== "object" || m === null) return;
    if ("QMP" in m && this.onGreeting !== null) {
      const g = this.onGreeting;
      this.onGreeting = null;
      g(m);
      return;
    }
    if (typeof m["event"] === "string") {
      for (const l of this.eventListeners) l(m as unknown as QmpEvent);
      return;
    }
    const id = typeof m["id"] === "number" ? m["id"] : null;
    const w = id === null ? undefined : this.waiting.get(id);
    if (w === undefined) {
      // An error without an id (the server could not read it): it answers the oldest request.
      if (id === null && "error" in m && this.waiting.size > 0) {
        const [first, fw] = this.waiting.entries().next().value as [number, { reject: (e: Error) => void }];
        this.waiting.delete(first);
        const err = m["error"] as { class?: string; desc?: string };
        fw.reject(new QmpReplyError(String(err.class), String(err.desc)));
      }
      return;
    }
    this.waiting.delete(id!);
    if ("return" in m) w.resolve(m["return"]);
    else {
      const err = (m["error"] ?? {}) as { class?: string; desc?: string };
      w.reject(new QmpReplyError(String(err.class ?? "GenericError"), String(err.desc ?? "")));
    }
  }
}
