/**
 * The control socket's commands: names, argument schemas and what each does on a {@link VmSession}.
 *
 * Emulates: QMP's command layer (`docs/interop/qmp-spec.rst` in QEMU): commands by name, arguments as a JSON
 * object with kebab-case keys checked against a schema before the command runs (a wrong type, a missing or an
 * unexpected argument is an error and changes nothing), `{}` returned by commands that return no data.
 * Source of truth: the table in the README ("Control socket"); QEMU's QMP specification for error classes
 * (`GenericError`, `CommandNotFound`, `DeviceNotFound`).
 * Does not: parse the wire (`control-server.ts`), or implement QEMU's own commands.
 */
import { isVmportError } from "../core/errors.js";
import type { VmSession } from "./session.js";

/** Argument types a schema names. */
export type ArgType = "string" | "int" | "bool" | "string|null" | "string[]";

/** One argument: its type and whether it may be left out. */
export interface ArgSpec {
  /** The JSON type the value must have. */
  type: ArgType;
  /** Whether the argument may be left out (default false). */
  optional?: boolean;
}

/** What a command runs with: the session, its arguments (checked), and the client's own state. */
export interface CommandContext {
  /** The session the command acts on. */
  session: VmSession;
  /** The arguments, checked against the command's {@link CommandSpec.args}. */
  args: Record<string, unknown>;
  /** Set the events this client receives besides those every client receives (`subscribe`). */
  subscribe(events: string[]): string[];
}

/** One command. */
export interface CommandSpec {
  /** The arguments the command takes, by name. */
  args: Record<string, ArgSpec>;
  /** Run the command; resolves with its return value, rejects with a {@link QmpError}. */
  run(ctx: CommandContext): Promise<unknown>;
}

/** A QMP error reply's class and text. */
export class QmpError extends Error {
  /** An error of class `errorClass` with the description `desc`, sent to the client as QMP's `error` reply. */
  constructor(
    readonly errorClass: "GenericError" | "CommandNotFound" | "DeviceNotFound",
    desc: string,
  ) {
    super(desc);
  }
}

/** Events every negotiated client receives. */
export const BROADCAST_EVENTS = ["GUEST_CHANGED", "GUEST_LOG", "TCLO_RESULT", "SHUTDOWN", "EVENTS_DROPPED"] as const;
/** Events a client receives only after `subscribe`. */
export const SUBSCRIBED_EVENTS = ["BACKDOOR_CALL"] as const;
/** Every event name. */
export const EVENT_NAMES: readonly string[] = [...BROADCAST_EVENTS, ...SUBSCRIBED_EVENTS];

/** The largest `timeout-ms` accepted: one day. */
export const TCLO_SEND_MAX_TIMEOUT_MS = 86_400_000;

let versionCache: { qemu: { major: number; minor: number; micro: number }; package: string } | null = null;

/**
 * vmport's version in `query-version`'s shape (QMP's greeting carries the same object): QMP tooling reads
 * `qemu.major/minor/micro` and `package`; here they are vmport's version numbers, and `package` says so.
 */
export function qmpVersion(read: () => string): { qemu: { major: number; minor: number; micro: number }; package: string } {
  if (versionCache !== null) return versionCache;
  let v = "0.0.0";
  try {
    const parsed = JSON.parse(read()) as { version?: unknown };
    if (typeof parsed.version === "string") v = parsed.version;
  } catch {
    // unknown
  }
  const [major = 0, minor = 0, micro = 0] = v
    .split(/[.+-]/)
    .map((x) => Number.parseInt(x, 10))
    .map((n) => (Number.isFinite(n) ? n : 0));
  versionCache = { qemu: { major, minor, micro }, package: `vmport ${v}` };
  return versionCache;
}

const s = (optional = false): ArgSpec => ({ type: "string", optional });

/** Every command, by name (README "Control socket" lists them with their arguments and returns). */
export function commandTable(readVersion: () => string): Record<string, CommandSpec> {
  return {
    "query-version": { args: {}, run: async () => qmpVersion(readVersion) },
    "query-status": {
      args: {},
      run: async ({ session }) => {
        const st = await session.status();
        return { status: st.running ? "running" : "exited", pid: st.pid, "exit-status": st.exitStatus, "backdoor-calls": st.backdoorCalls };
      },
    },
    "query-guest": { args: {}, run: ({ session }) => session.guest() },
    "query-profile": { args: {}, run: async ({ session }) => session.profile },
    "query-counters": { args: {}, run: ({ session }) => session.counters() },
    "guestinfo-get": {
      args: { key: s() },
      run: async ({ session, args }) => ({ value: await session.guestinfo.get(args["key"] as string) }),
    },
    "guestinfo-set": {
      args: { key: s(), value: s() },
      run: async ({ session, args }) => {
        await session.guestinfo.set(args["key"] as string, args["value"] as string);
        return {};
      },
    },
    "guestinfo-delete": {
      args: { key: s() },
      run: async ({ session, args }) => ({ deleted: await session.guestinfo.delete(args["key"] as string) }),
    },
    "guestinfo-list": { args: {}, run: async ({ session }) => ({ guestinfo: await session.guestinfo.list() }) },
    "tclo-send": {
      args: { command: s(), "timeout-ms": { type: "int", optional: true } },
      run: async ({ session, args }) => {
        const t = args["timeout-ms"] as number | undefined;
        if (t !== undefined && (t < 0 || t > TCLO_SEND_MAX_TIMEOUT_MS))
          throw new QmpError("GenericError", `Parameter 'timeout-ms' must be 0..${TCLO_SEND_MAX_TIMEOUT_MS}`);
        const r = await session.tclo(args["command"] as string, t === undefined ? {} : { timeoutMs: t });
        return { ok: r.ok, text: r.text };
      },
    },
    "mouse-event": {
      args: { x: { type: "int" }, y: { type: "int" }, buttons: { type: "int", optional: true }, wheel: { type: "int", optional: true } },
      run: async ({ session, args }) => ({
        queued: await session.mouse(
          args["x"] as number,
          args["y"] as number,
          (args["buttons"] as number | undefined) ?? 0,
          (args["wheel"] as number | undefined) ?? 0,
        ),
      }),
    },
    "clipboard-get": { args: {}, run: async ({ session }) => ({ text: await session.clipboard.get() }) },
    "clipboard-set": {
      args: { text: { type: "string|null" } },
      run: async ({ session, args }) => {
        await session.clipboard.set(args["text"] as string | null);
        return {};
      },
    },
    "device-list": { args: {}, run: async ({ session }) => ({ devices: await session.devices.list() }) },
    "device-set": {
      args: { name: s(), connected: { type: "bool" } },
      run: async ({ session, args }) => {
        await session.devices.set(args["name"] as string, args["connected"] as boolean);
        return {};
      },
    },
    subscribe: {
      args: { events: { type: "string[]" } },
      run: async ({ args, subscribe }) => {
        const events = args["events"] as string[];
        const unknown = events.find((e) => !EVENT_NAMES.includes(e));
        if (unknown !== undefined)
          throw new QmpError("GenericError", `Parameter 'events': unknown event '${unknown}' (events: ${EVENT_NAMES.join(", ")})`);
        return { events: subscribe(events) };
      },
    },
  };
}

/** Check `args` against `spec`; throws a {@link QmpError} naming the first bad argument (QMP's wording). */
export function checkArgs(spec: Record<string, ArgSpec>, args: Record<string, unknown>): void {
  for (const k of Object.keys(args)) {
    if (!Object.hasOwn(spec, k)) throw new QmpError("GenericError", `Parameter '${k}' is unexpected`);
  }
  for (const [k, a] of Object.entries(spec)) {
    const v = Object.hasOwn(args, k) ? args[k] : undefined;
    if (v === undefined) {
      if (a.optional !== true) throw new QmpError("GenericError", `Parameter '${k}' is missing`);
      continue;
    }
    const ok =
      a.type === "string"
        ? typeof v === "string"
        : a.type === "int"
          ? typeof v === "number" && Number.isSafeInteger(v)
          : a.type === "bool"
            ? typeof v === "boolean"
            : a.type === "string|null"
              ? v === null || typeof v === "string"
              : Array.isArray(v) && v.every((x) => typeof x === "string");
    if (!ok)
      throw new QmpError(
        "GenericError",
        `Invalid parameter type for '${k}', expected: ${a.type === "int" ? "integer" : a.type === "bool" ? "boolean" : a.type === "string[]" ? "array of strings" : a.type === "string|null" ? "string or null" : "string"}`,
      );
  }
}

/** An error thrown by a command as a QMP error reply. */
export function toQmpError(e: unknown): QmpError {
  if (e instanceof QmpError) return e;
  if (isVmportError(e)) return new QmpError(e.code === "VMPORT_NO_DEVICE" ? "DeviceNotFound" : "GenericError", `${e.message} (${e.code})`);
  return new QmpError("GenericError", e instanceof Error ? e.message : String(e));
}
