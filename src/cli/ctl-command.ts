/**
 * `vmport ctl PATH COMMAND [NAME=VALUE | NAME:=JSON ...]` and `vmport ctl PATH watch [EVENT ...]`: drive and watch
 * a `vmport run --control PATH` from the shell.
 *
 * Emulates: nothing; a QMP client (`host/qmp-client.ts`) with readable output: tables for lists, the model as a
 * short summary, `key: value` lines otherwise; `--json` prints the `return` value as one JSON document (or, with
 * `watch`, each event as one JSON line). Arguments: `NAME=VALUE` passes a string, `NAME:=JSON` a JSON value
 * (`timeout-ms:=5000`, `connected:=true`, `events:='["BACKDOOR_CALL"]'`).
 * Exit status: 0 on a `return` (and `watch` after `SHUTDOWN`), 1 on an `error` reply, 2 on usage errors, 3 when the
 * socket cannot be reached or the connection is lost first. Everything the guest controls is escaped when printed
 * (`escapeText`); JSON output is JSON (escaped by its own rules).
 * Does not: keep a session open between invocations (one command per connection).
 */
import { escapeText } from "../core/text.js";
import { QmpClient, QmpConnectionError, QmpReplyError, type QmpEvent } from "../host/qmp-client.js";
import { EVENT_NAMES } from "../host/qmp-commands.js";
import type { VmReport } from "../vm/report.js";
import { usage } from "./errors.js";

/** Exit status when the socket cannot be reached or the connection is lost. */
export const EXIT_UNREACHABLE = 3;

/** `NAME=VALUE` / `NAME:=JSON` → arguments. */
export function parseCtlArgs(args: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of args) {
    const eq = a.indexOf("=");
    if (eq <= 0) usage(`ctl: argument "${a}": expected NAME=VALUE or NAME:=JSON`);
    const json = a[eq - 1] === ":";
    const name = a.slice(0, json ? eq - 1 : eq);
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(name)) usage(`ctl: argument "${a}": bad name "${name}"`);
    if (Object.hasOwn(out, name)) usage(`ctl: argument "${name}" given twice`);
    const raw = a.slice(eq + 1);
    if (!json) out[name] = raw;
    else {
      try {
        out[name] = JSON.parse(raw);
      } catch (e) {
        usage(`ctl: argument "${name}": not JSON (${(e as Error).message})`);
      }
    }
  }
  return out;
}

/** One printable cell: strings as themselves, everything else as compact JSON; escaped. */
function cell(v: unknown): string {
  return escapeText(typeof v === "string" ? v : (JSON.stringify(v) ?? "null"));
}

/** Columns padded to the widest cell. */
export function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!)))
      .join("  ")
      .trimEnd();
  return [line(head), ...rows.map(line)].join("\n") + "\n";
}

/** The model of `query-guest` as a few lines. */
export function guestSummary(r: VmReport): string {
  const g = r.guest;
  const out: string[] = [];
  out.push(
    `program: ${r.exit === null ? "running" : `exited, status ${r.exit.status}${r.exit.signalName !== null ? ` (${r.exit.signalName})` : ""}`}; ${r.backdoorCalls} backdoor calls`,
  );
  out.push(
    `tools: ${g.toolsRunning ? "running" : "not running"}${g.toolsVersion !== null ? `, version ${g.toolsVersion}` : ""}${g.toolsService !== null ? ` (${cell(g.toolsService)})` : ""}`,
  );
  if (g.hostname !== null) out.push(`hostname: ${cell(g.hostname)}`);
  if (g.osNameFull !== null || g.osName !== null) out.push(`os: ${cell(g.osNameFull ?? g.osName)}`);
  if (g.primaryIp !== null) out.push(`primary IP: ${cell(g.primaryIp)}`);
  for (const nic of g.nics)
    out.push(
      `nic ${cell(nic.mac)}: ${nic.ips.map((a) => cell(a.prefixLength === null ? a.address : `${a.address}/${a.prefixLength}`)).join(", ") || "no address"}`,
    );
  if (g.routes.length > 0) out.push(`routes: ${g.routes.length}`);
  if (g.dns !== null && g.dns.servers.length > 0) out.push(`dns: ${g.dns.servers.map(cell).join(", ")}`);
  out.push(`guestinfo: ${Object.keys(g.guestinfo).length} keys`);
  const last = r.tclo.commands.at(-1);
  out.push(`tclo: ${r.tclo.commands.length} commands${last !== undefined ? ` (last: ${cell(last.command)} ${last.outcome})` : ""}`);
  out.push(`log: ${r.log.lines.length} lines${r.log.lines.length > 0 ? ` (last: ${cell(r.log.lines.at(-1))})` : ""}`);
  if (r.unknownRpc.total > 0)
    out.push(
      `unknown RPCs: ${Object.entries(r.unknownRpc.commands)
        .map(([k, n]) => `${cell(k)} x${n}`)
        .join(", ")}`,
    );
  return out.join("\n") + "\n";
}

/** A command's `return` value, readable. */
export function formatReturn(command: string, v: unknown): string {
  const o = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  switch (command) {
    case "query-guest":
      return guestSummary(v as VmReport);
    case "query-status":
      return `${o["status"]}${o["status"] === "exited" ? ` with status ${o["exit-status"]}` : ""}, pid ${o["pid"]}, ${o["backdoor-calls"]} backdoor calls\n`;
    case "guestinfo-list": {
      const gi = (o["guestinfo"] ?? {}) as Record<string, unknown>;
      return Object.keys(gi).length === 0
        ? "(no guestinfo)\n"
        : table(
            ["KEY", "VALUE"],
            Object.entries(gi).map(([k, x]) => [cell(k), cell(x)]),
          );
    }
    case "device-list": {
      const ds = (o["devices"] ?? []) as { name: unknown; connected: unknown }[];
      return ds.length === 0
        ? "(no devices)\n"
        : table(
            ["NAME", "CONNECTED"],
            ds.map((d) => [cell(d.name), d.connected === true ? "yes" : "no"]),
          );
    }
    case "query-counters": {
      const rows: string[][] = [];
      for (const [comp, rec] of Object.entries(o))
        for (const [k, n] of Object.entries((rec ?? {}) as Record<string, unknown>)) rows.push([cell(`${comp}.${k}`), cell(n)]);
      return table(["COUNTER", "VALUE"], rows);
    }
    case "guestinfo-get":
    case "clipboard-get": {
      const x = o[command === "guestinfo-get" ? "value" : "text"];
      return x === null || x === undefined ? "" : cell(x) + "\n";
    }
    default:
      return Object.entries(o)
        .map(([k, x]) => `${cell(k)}: ${cell(x)}\n`)
        .join("");
  }
}

function time(ts: { seconds: number; microseconds: number } | undefined): string {
  if (ts === undefined || ts.seconds < 0) return "-";
  return new Date(ts.seconds * 1000).toISOString().slice(0, 19) + "." + String(ts.microseconds).padStart(6, "0") + "Z";
}

/** One event, readable, on one line. */
export function formatEvent(e: QmpEvent): string {
  const d = e.data ?? {};
  let what: string;
  switch (e.event) {
    case "GUEST_CHANGED":
      what = `${cell(d["field"])}${d["key"] !== undefined ? `[${cell(d["key"])}]` : ""} = ${escapeText(JSON.stringify(d["value"]) ?? "null")}`;
      break;
    case "GUEST_LOG":
      what = cell(d["line"]);
      break;
    case "TCLO_RESULT":
      what = `${cell(d["command"])}: ${cell(d["outcome"])} ${cell(d["text"])}`.trimEnd();
      break;
    case "BACKDOOR_CALL":
      what = `vcpu ${cell(d["vcpu"])} ${cell(d["op"])} port ${d["port"] === null ? "-" : `0x${Number(d["port"]).toString(16)}`} command ${cell(d["command"])} ${cell(d["outcome"])}`;
      break;
    case "SHUTDOWN":
      what = `exit-status ${cell(d["exit-status"])}${d["signal-name"] !== null && d["signal-name"] !== undefined ? ` (${cell(d["signal-name"])})` : ""}`;
      break;
    default:
      what = Object.entries(d)
        .map(([k, v]) => `${cell(k)}=${cell(v)}`)
        .join(" ");
  }
  return `${time(e.timestamp)} ${escapeText(e.event)} ${what}`.trimEnd() + "\n";
}

async function connect(path: string): Promise<QmpClient | number> {
  try {
    return await QmpClient.connect(path);
  } catch (e) {
    process.stderr.write(`vmport: ctl: cannot reach ${escapeText(path)}: ${escapeText((e as Error).message)}\n`);
    return EXIT_UNREACHABLE;
  }
}

/** Run `vmport ctl`; returns the exit status. */
export async function runCtl(path: string, command: string, args: string[], o: { json: boolean }): Promise<number> {
  if (command === "watch") {
    const filter = args;
    const bad = filter.find((e) => !EVENT_NAMES.includes(e));
    if (bad !== undefined) usage(`ctl: watch: unknown event "${bad}" (events: ${EVENT_NAMES.join(", ")})`);
    return watch(path, filter, o.json);
  }
  if (command === "qmp_capabilities") usage("ctl: qmp_capabilities is sent by ctl itself");
  const a = parseCtlArgs(args);
  const c = await connect(path);
  if (typeof c === "number") return c;
  try {
    const ret = await c.execute(command, Object.keys(a).length > 0 ? a : undefined);
    process.stdout.write(o.json ? JSON.stringify(ret, null, 2) + "\n" : formatReturn(command, ret));
    return 0;
  } catch (e) {
    if (e instanceof QmpReplyError) {
      process.stderr.write(`vmport: ctl: ${escapeText(command)}: ${escapeText(e.errorClass)}: ${escapeText(e.message)}\n`);
      return 1;
    }
    process.stderr.write(`vmport: ctl: ${escapeText(command)}: ${escapeText((e as Error).message)}\n`);
    return e instanceof QmpConnectionError ? EXIT_UNREACHABLE : 1;
  } finally {
    c.destroy();
  }
}

async function watch(path: string, filter: string[], json: boolean): Promise<number> {
  const c = await connect(path);
  if (typeof c === "number") return c;
  let shutdown = false;
  c.onEvent((e) => {
    if (filter.length === 0 || filter.includes(e.event) || e.event === "SHUTDOWN") {
      if (filter.length === 0 || filter.includes(e.event)) process.stdout.write(json ? JSON.stringify(e) + "\n" : formatEvent(e));
    }
    if (e.event === "SHUTDOWN") {
      shutdown = true;
      c.destroy();
    }
  });
  if (filter.includes("BACKDOOR_CALL")) {
    try {
      await c.execute("subscribe", { events: ["BACKDOOR_CALL"] });
    } catch (e) {
      if (!shutdown) {
        process.stderr.write(`vmport: ctl: watch: ${escapeText((e as Error).message)}\n`);
        c.destroy();
        return e instanceof QmpReplyError ? 1 : EXIT_UNREACHABLE;
      }
    }
  }
  await c.closed;
  if (shutdown) return 0;
  process.stderr.write(`vmport: ctl: watch: the connection closed before SHUTDOWN\n`);
  return EXIT_UNREACHABLE;
}
