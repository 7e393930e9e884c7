/**
 * `guestlib.stat.get ENCODING STAT`: the Guest SDK's extended statistics (`vmware-toolbox-cmd stat raw`,
 * `VMGuestLib_StatGet`), built from the profile.
 *
 * Emulates: what an ESX host answers. The request is the command, one space, the encoding, one space, then the
 * stat name and its parameter (`guestlib.stat.get text session`; `stat raw` without arguments sends three spaces).
 * An empty stat name lists the stats there are; an empty encoding is `text`. Encodings:
 * - `text`: `name = value` lines;
 * - `yaml`: numeric metrics as `name:` with indented `type`, `units`, `value`; text metrics as `name: "text"`;
 * - `xml`: `<metrics session="N">` with one `<metric name=… type=… units=…>value</metric>` per metric;
 * - `json`: `{"session":"N","metrics":{name:{"type","units","value"}|"text"}}`.
 * The stat list is `session`, `host`, `resources` (one per line in text; a list in the other encodings).
 * Source of truth: open-vm-tools stable-12.2.0 `toolbox/toolboxcmd-stat.c` (`StatGetRaw` prints the reply text),
 * `libguestlib/vmGuestLib.c` (`VMGuestLib_StatGet`: the request layout; any `"0 …"` is "not available"); the
 * vSphere Guest SDK documentation of extended guest statistics (the encodings, metric metadata `type`
 * static/instant/accumulate and `units`, the `session` metrics, the text and XML examples). The JSON layout and the
 * metric names of `host` and `resources` are vmport's own: the documentation shows neither.
 * Does not: serve `vscsi` and `vnet` (vmport has no virtual disks or NICs in its profile): they answer
 * `"0 No such stat"`; nor anything on a host type other than ESX (`vmxType` 2), which answers `"0 Unknown command"`
 * as hosted products do.
 */
import type { VmProfile } from "../devices/profile.js";
import { uuidBytes } from "../devices/backdoor/commands/identity.js";

/** The encodings `stat raw` offers. */
export const STAT_ENCODINGS = ["text", "json", "xml", "yaml"] as const;
/** One of {@link STAT_ENCODINGS}. */
export type StatEncoding = (typeof STAT_ENCODINGS)[number];
/** The stats served (`stat raw` with no stat name lists them). */
export const STAT_NAMES = ["session", "host", "resources"] as const;

/** One metric: numeric with its metadata, or text. */
export type Metric =
  | { name: string; type: "static" | "instant" | "accumulate"; units: string; value: number | bigint }
  | { name: string; text: string };

/** What the metrics are built from. */
export interface StatSource {
  /** The profile whose `guestlib` figures and product type the metrics report. */
  profile: VmProfile;
  /** The session id (`guestlib.info.get`'s, so both APIs agree). */
  sessionId: bigint;
  /** Microseconds since the VM started, on the VM clock. */
  uptimeUs: bigint;
}

/** The hypervisor version string (`session` and `host`). */
function hostVersion(p: VmProfile): string {
  return `VMware ESXi build-${p.buildNumber}`;
}

/** The UUID as the BIOS shows it: `56 4d 2c 53 43 56 66 8e-7c 05 fd 7e 51 1e 23 f3`. */
function biosUuid(uuid: string): string {
  const hex = [...uuidBytes(uuid)].map((b) => b.toString(16).padStart(2, "0"));
  return `${hex.slice(0, 8).join(" ")}-${hex.slice(8).join(" ")}`;
}

/** The metrics of one stat, or null for a stat that is not served. */
export function statMetrics(stat: string, s: StatSource): Metric[] | null {
  const p = s.profile;
  const g = p.guestlib;
  switch (stat) {
    case "session":
      return [
        { name: "session", type: "static", units: "number", value: s.sessionId },
        { name: "uptime", type: "accumulate", units: "us", value: s.uptimeUs },
        { name: "version", text: hostVersion(p) },
        { name: "provider", text: "" },
        { name: "uuid.bios", text: biosUuid(p.uuid) },
      ];
    case "host":
      return [
        { name: "version", text: hostVersion(p) },
        { name: "cpu.processorMHz", type: "static", units: "MHz", value: p.cpuMhz },
        { name: "tsc.hz", type: "static", units: "Hz", value: p.tscHz },
      ];
    case "resources": {
      const m: Metric[] = [];
      const add = (name: string, type: "static" | "instant" | "accumulate", units: string, v: number | bigint | null): void => {
        if (v !== null) m.push({ name, type, units, value: v });
      };
      add("cpu.reservation", "static", "MHz", g.cpuReservationMhz);
      add("cpu.limit", "static", "MHz", g.cpuLimitMhz ?? p.cpuMhz);
      add("cpu.shares", "static", "shares", g.cpuShares);
      add("cpu.used", "accumulate", "us", s.uptimeUs); // one busy vCPU: the most a guest could have used
      add("mem.reservation", "static", "MB", g.memReservationMb);
      add("mem.limit", "static", "MB", g.memLimitMb ?? p.memSizeMb);
      add("mem.shares", "static", "shares", g.memShares);
      add("mem.mapped", "instant", "MB", g.memMappedMb);
      add("mem.active", "instant", "MB", g.memActiveMb);
      add("mem.overhead", "instant", "MB", g.memOverheadMb);
      add("mem.ballooned", "instant", "MB", g.memBalloonedMb);
      add("mem.swapped", "instant", "MB", g.memSwappedMb);
      add("mem.shared", "instant", "MB", g.memSharedMb);
      add("mem.sharedSaved", "instant", "MB", g.memSharedSavedMb);
      add("mem.used", "instant", "MB", g.memUsedMb);
      if (g.resourcePoolPath !== null) m.push({ name: "resourcePool", text: g.resourcePoolPath });
      return m;
    }
    default:
      return null;
  }
}

function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos" }[c]!};`);
}

/** The list of stats in `enc`. */
export function encodeStatList(enc: StatEncoding): string {
  switch (enc) {
    case "text":
      return STAT_NAMES.map((n) => `${n}\n`).join("");
    case "yaml":
      return STAT_NAMES.map((n) => `- ${n}\n`).join("");
    case "json":
      return JSON.stringify({ stats: STAT_NAMES }) + "\n";
    case "xml":
      return `<stats>${STAT_NAMES.map((n) => `<stat>${n}</stat>`).join("")}</stats>\n`;
  }
}

/** `metrics` in `enc`; `session` is the session id the XML and JSON forms carry. */
export function encodeMetrics(enc: StatEncoding, metrics: Metric[], session: bigint): string {
  switch (enc) {
    case "text":
      return metrics
        .map((m) => ("text" in m ? (m.text === "" ? `${m.name} =\n` : `${m.name} = ${m.text}\n`) : `${m.name} = ${m.value}\n`))
        .join("");
    case "yaml":
      return metrics
        .map((m) =>
          "text" in m
            ? `${m.name}: ${JSON.stringify(m.text)}\n`
            : `${m.name}:\n    type: ${m.type}\n    units: ${m.units}\n    value: ${m.value}\n`,
        )
        .join("");
    case "xml":
      return (
        `<metrics session="${session}">` +
        metrics
          .map((m) =>
            "text" in m
              ? `<metric name="${xmlEscape(m.name)}">${xmlEscape(m.text)}</metric>`
              : `<metric name="${xmlEscape(m.name)}" type="${m.type}" units="${xmlEscape(m.units)}">${m.value}</metric>`,
          )
          .join("") +
        "</metrics>\n"
      );
    case "json": {
      // Numbers as JSON numbers; a 64-bit value beyond 2^53 is written digit for digit (still a JSON number).
      const body = metrics
        .map((m) =>
          "text" in m
            ? `${JSON.stringify(m.name)}:${JSON.stringify(m.text)}`
            : `${JSON.stringify(m.name)}:{"type":"${m.type}","units":${JSON.stringify(m.units)},"value":${m.value}}`,
        )
        .join(",");
      return `{"session":"${session}","metrics":{${body}}}\n`;
    }
  }
}

/** Outcome of a `guestlib.stat.get` request. */
export type StatReply = { ok: true; text: string } | { ok: false; text: string };

/**
 * Answer the arguments of `guestlib.stat.get` (after its first space): `ENCODING STAT [PARAM]`.
 */
export function answerStatGet(argsText: string, s: StatSource): StatReply {
  const sp = argsText.indexOf(" ");
  const encoding = (sp < 0 ? argsText : argsText.slice(0, sp)) || "text";
  const stat = (sp < 0 ? "" : argsText.slice(sp + 1)).trim();
  if (!(STAT_ENCODINGS as readonly string[]).includes(encoding)) return { ok: false, text: "Unknown encoding" };
  const enc = encoding as StatEncoding;
  if (stat === "") return { ok: true, text: encodeStatList(enc) };
  const metrics = statMetrics(stat, s);
  if (metrics === null) return { ok: false, text: "No such stat" };
  return { ok: true, text: encodeMetrics(enc, metrics, s.sessionId) };
}
