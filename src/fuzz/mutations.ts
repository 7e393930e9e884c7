/**
 * How a hostile host answers: mutations of RPCI replies, of low-bandwidth command results, and TCLO commands from a
 * grammar of safe commands. Every choice comes from the run's {@link Prng}, so a run is repeatable.
 *
 * Emulates: a VMware host that answers every question a guest tool asks, but not politely — the inputs guest tools
 * trust and that have held their bugs (open-vm-tools' RPC parsing has had several).
 * Source of truth: the reply formats of `docs/protocol.md` ("1 …"/"0 …" RPCI replies, binary guestlib bodies),
 * the safety rule of `channels/tclo-safety.ts` (no command that acts on the machine is ever generated).
 * Does not: mutate answers the guest never asked for; generate anything {@link tcloDanger} refuses.
 */
import { tcloDanger } from "../channels/tclo-safety.js";
import type { Prng } from "./prng.js";

/** Numbers at the boundaries parsers get wrong, as text. */
export const BOUNDARY_NUMBERS = [
  "0",
  "-1",
  "1",
  "127",
  "128",
  "255",
  "256",
  "32767",
  "32768",
  "65535",
  "65536",
  "2147483647",
  "2147483648",
  "-2147483648",
  "-2147483649",
  "4294967295",
  "4294967296",
  "9223372036854775807",
  "9223372036854775808",
  "-9223372036854775808",
  "18446744073709551615",
  "18446744073709551616",
  "1e308",
  "NaN",
  "0x7fffffff",
  "00000000000000000000001",
] as const;

/** 32-bit register values at the boundaries. */
export const BOUNDARY_WORDS = [
  0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
] as const;

/** Format directives that crash a `printf(reply)`. */
const FORMATS = ["%s%s%s%s%s%s%s%s", "%n%n%n%n", "%x%x%x%x%x%x%x%x", "%99999999s", "%.9999999f", "%*.*s%p%p%p"];

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const concat = (...p: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(p.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of p) {
    out.set(x, o);
    o += x.length;
  }
  return out;
};

/** The RPCI reply mutations, by name. */
export const RPCI_MUTATIONS = [
  "status-flip",
  "empty",
  "status-only",
  "no-space",
  "long",
  "embedded-nul",
  "invalid-utf8",
  "format",
  "number",
  "truncate",
  "extend",
  "bitflip",
  "crlf",
] as const;
/** One RPCI reply mutation. */
export type RpciMutation = (typeof RPCI_MUTATIONS)[number];

/**
 * A mutation of `reply` (the host's "1 …"/"0 …" bytes): one of {@link RPCI_MUTATIONS}, chosen by `rng` unless
 * `which` is given. The result is at most `maxLength` bytes.
 */
export function mutateRpciReply(
  rng: Prng,
  reply: Uint8Array,
  maxLength: number,
  which?: RpciMutation,
): { reply: Uint8Array; mutation: RpciMutation } {
  const m = which ?? rng.pick(RPCI_MUTATIONS);
  const body = reply.length >= 2 ? reply.subarray(2) : new Uint8Array(0);
  const status = reply.length >= 1 ? reply[0]! : 0x31;
  const head = (s: number) => Uint8Array.of(s, 0x20);
  let out: Uint8Array;
  switch (m) {
    case "status-flip":
      out = concat(head(status === 0x31 ? 0x30 : 0x31), body);
      break;
    case "empty":
      out = new Uint8Array(0);
      break;
    case "status-only":
      out = Uint8Array.of(status);
      break;
    case "no-space":
      out = concat(Uint8Array.of(status), body);
      break;
    case "long": {
      const n = rng.chance(0.5) ? maxLength - 2 : rng.pick([255, 256, 1023, 1024, 4095, 4096, 8192, 32767, 32768]);
      const fill = rng.chance(0.5) ? 0x41 : 0x25; // 'A', or '%'
      out = concat(head(status), new Uint8Array(Math.max(0, n)).fill(fill));
      break;
    }
    case "embedded-nul": {
      const b = concat(head(status), body.length > 0 ? body : utf8("value"));
      b[2 + rng.below(b.length - 2)] = 0;
      out = b;
      break;
    }
    case "invalid-utf8":
      out = concat(
        head(status),
        body.subarray(0, rng.below(body.length + 1)),
        rng.pick([
          Uint8Array.of(0xff, 0xfe),
          Uint8Array.of(0xc0, 0x80),
          Uint8Array.of(0x80),
          Uint8Array.of(0xed, 0xa0, 0x80),
          Uint8Array.of(0xf4, 0x90, 0x80, 0x80),
        ]),
        body.subarray(rng.below(body.length + 1)),
      );
      break;
    case "format":
      out = concat(head(status), utf8(rng.pick(FORMATS)), rng.chance(0.5) ? body : new Uint8Array(0));
      break;
    case "number": {
      const text = new TextDecoder().decode(body);
      const num = rng.pick(BOUNDARY_NUMBERS);
      out = concat(head(status), utf8(/\d+/.test(text) ? text.replace(/-?\d+/, num) : num));
      break;
    }
    case "truncate":
      out = reply.subarray(0, rng.below(reply.length + 1)).slice();
      break;
    case "extend":
      out = concat(reply, rng.bytes(1 + rng.below(rng.chance(0.5) ? 16 : 4096)));
      break;
    case "bitflip": {
      const b = reply.length > 0 ? reply.slice() : utf8("1 ");
      for (let k = 0; k <= rng.below(4); k++) b[rng.below(b.length)]! ^= 1 << rng.below(8);
      out = b;
      break;
    }
    case "crlf":
      out = concat(head(status), body, utf8(rng.pick(["\r\n", "\n", "\r", "\n\n\n"])));
      break;
  }
  return { reply: out.length > maxLength ? out.subarray(0, maxLength) : out, mutation: m };
}

/** A boundary value for one register, or a random one. */
export function mutateWord(rng: Prng, original: number): number {
  switch (rng.below(4)) {
    case 0:
      return rng.pick(BOUNDARY_WORDS);
    case 1:
      return (original + rng.pick([-1, 1])) >>> 0;
    case 2:
      return (original ^ (1 << rng.below(32))) >>> 0;
    default:
      return rng.next();
  }
}

/** Option names a TCLO `Set_Option` may carry (open-vm-tools' vmtoolsd options), none that acts on the machine. */
const SET_OPTIONS = [
  "broadcastIP",
  "enableDnD",
  "copypaste",
  "toolScripts.afterPowerOn",
  "toolsInstallRequired",
  "synctime",
  "enableMessageBusTunnel",
  "time.synchronize.tools.startup",
] as const;

/**
 * A TCLO command from the safe grammar: `ping`, `Capabilities_Register`, `Set_Option NAME VALUE`, unknown words, odd
 * spacing, very long arguments. Never anything {@link tcloDanger} names (checked, and replaced by `ping` if so).
 */
export function safeTcloCommand(rng: Prng, maxLength = 65535): string {
  const value = () =>
    rng.pick(["0", "1", "", " ", "-1", "2147483648", "%s%s%s%n", "\u00ff\u00fe", "x".repeat(rng.pick([255, 4096, 65000]))]);
  const space = () => rng.pick([" ", "  ", "\t", "", " \0 "]);
  let cmd: string;
  switch (rng.below(6)) {
    case 0:
      cmd = "ping";
      break;
    case 1:
      cmd = "Capabilities_Register";
      break;
    case 2:
    case 3: {
      const name = rng.pick(SET_OPTIONS);
      // synctime only ever 0: anything else would step this machine's clock.
      cmd = `Set_Option${space()}${name}${space()}${name === "synctime" ? "0" : value()}`;
      break;
    }
    case 4:
      cmd = rng.pick([
        "",
        " ",
        "Set_Option",
        "Set_Option broadcastIP",
        "Capabilities_Register extra args",
        "pingx",
        "Unknown_Command",
        "reset reset",
        "\0",
        "%s%n",
      ]);
      break;
    default:
      cmd = `${rng.pick(["Foo", "Bar_Baz", "x", "Set_Optionx"])}${space()}${value()}`;
  }
  if (cmd.length > maxLength) cmd = cmd.slice(0, maxLength);
  return tcloDanger(cmd) === null ? cmd : "ping";
}
