/**
 * Line up the COM1 output of the backdoor-table kernel under two hosts (vmport in v86, and QEMU's vmport device)
 * field by field. Every difference must be on the allow-list of known, deliberate divergences, each with its
 * reason in `docs/protocol.md` §12; anything else is reported.
 */

/** A documented divergence: the call, the fields (0 = EAX … 5 = EDI, or "line") and why. */
export interface AllowedDivergence {
  /** The call's name in the test kernel's table (`GETMEMSIZE`, `RPCI-HB`, …). */
  call: string;
  /** Fields allowed to differ: 0 = EAX … 5 = EDI, or "line" for the whole line. */
  fields: (number | "line")[];
  /** Why vmport differs from QEMU here (`docs/protocol.md` §12). */
  why: string;
}

/** The allow-list (vmport vs QEMU 7.2 TCG). */
export const ALLOWED: readonly AllowedDivergence[] = [
  { call: "GETHWVERSION", fields: [0, 1], why: "QEMU lacks GETHWVERSION; vmport answers 4 and EBX = magic (open-vm-tools checks EBX)" },
  { call: "GETMEMSIZE", fields: [0, 1], why: "QEMU returns bytes (wrong above 4 GiB) and EBX = 0x1177; VMware returns MB" },
  { call: "GETMHZ", fields: [0], why: "QEMU under TCG does not know the CPU speed; vmport reports the profile's cpuMhz" },
  {
    call: "GETHZ",
    fields: [0, 1, 2],
    why: "QEMU under TCG leaves EAX and EBX = ~0 (frequencies unknown); vmport reports tscHz/apicBusHz at CPL 0",
  },
  { call: "GET_VCPU_INFO", fields: [0], why: "QEMU sets only LEGACY_X2APIC_OK, and only with x2APIC; vmport reports the profile's bits" },
  { call: "GETSCREENSIZE", fields: [0], why: "not implemented by QEMU" },
  { call: "GETGUIOPTIONS", fields: [0], why: "not implemented by QEMU" },
  { call: "MOUSE_RESTRICT", fields: [0], why: "QEMU treats ABSPOINTER_RESTRICT as unknown (EAX = ~0); vmport accepts it and leaves EAX" },
  { call: "RPCI-LB", fields: ["line"], why: "QEMU has no message channel" },
  { call: "RPCI-HB", fields: ["line"], why: "QEMU has no message channel and no HB port" },
];

/** One unexplained difference. */
export interface Difference {
  /** The call's name in the test kernel's table. */
  call: string;
  /** The field that differs (0 = EAX … 5 = EDI), or "line". */
  field: number | "line";
  /** Our value of the field (hex), or the line. */
  ours: string;
  /** QEMU's value of the field (hex), or the line. */
  theirs: string;
}

/** A register row of the table: a call name, then one or more 32-bit values as 8 hex digits. */
const TABLE_ROW = /^[A-Z][A-Z0-9_-]*(?: +[0-9A-Fa-f]{8})+$/;

/** Number of register rows in `text` (0: not a table at all, whatever else it holds). */
export function tableRows(text: string): number {
  let n = 0;
  for (const line of text.split("\n")) if (TABLE_ROW.test(line.trim())) n++;
  return n;
}

function parse(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const parts = line.trim().split(/\s+/);
    if (parts.length >= 2 && parts[0]) m.set(parts[0], parts.slice(1));
  }
  return m;
}

/** Compare `ours` with `theirs`; returns the differences not on the allow-list (and calls missing on either side). */
export function compareOutputs(ours: string, theirs: string, allowed: readonly AllowedDivergence[] = ALLOWED): Difference[] {
  const a = parse(ours);
  const b = parse(theirs);
  const out: Difference[] = [];
  for (const call of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(call);
    const y = b.get(call);
    const allow = allowed.find((d) => d.call === call);
    if (x === undefined || y === undefined) {
      out.push({ call, field: "line", ours: x?.join(" ") ?? "(missing)", theirs: y?.join(" ") ?? "(missing)" });
      continue;
    }
    if (allow?.fields.includes("line")) continue;
    const n = Math.max(x.length, y.length);
    for (let i = 0; i < n; i++) {
      if (x[i] !== y[i] && !allow?.fields.includes(i)) out.push({ call, field: i, ours: x[i] ?? "", theirs: y[i] ?? "" });
    }
  }
  return out;
}
