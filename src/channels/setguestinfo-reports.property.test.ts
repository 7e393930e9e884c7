/**
 * Property test: any byte string as the body of `SetGuestInfo` (every type, through the RPCI dispatcher as the
 * VMX receives it) never throws, never grows the guest model past its bounds, and a refused report (`"0 …"`)
 * changes nothing. Bodies are random bytes and random mutations (byte changes, truncations, insertions, repeated
 * slices) of the reports captured from the real open-vm-tools and of hand-built ones.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { VirtualClock } from "../core/clock.js";
import { SeededRandom } from "../core/random.js";
import { VirtualMachine } from "../vm/virtual-machine.js";
import { buildReport } from "../vm/report.js";
import { Channel } from "./message-channel.js";
import {
  DHCP_MAX_CONFIG_SIZE,
  DNSINFO_MAX_ADDRLEN,
  DNSINFO_MAX_SERVERS,
  DNSINFO_MAX_SUFFIXES,
  NICINFO_MAC_LEN,
  NICINFO_MAX_IPS,
  NICINFO_MAX_NICS,
  NICINFO_MAX_ROUTES,
  splitSetGuestInfo,
} from "./setguestinfo-reports.js";
import type { DnsConfig, GuestStateSnapshot } from "./reported-state.js";
import { REAL_NIC_V1, REAL_NIC_V2, REAL_NIC_V3 } from "./testdata/nic-reports.js";

const RUNS = 1000;
const REQUESTS = 10; // × RUNS = 10 000 requests
/** A ceiling for the whole model as JSON: every field is replaced, never accumulated, and each is bounded. */
const MODEL_JSON_MAX = 4 * 1024 * 1024;
const enc = new TextEncoder();

/** The data after `"SetGuestInfo  N "` of a captured request. */
const body = (req: Uint8Array): Uint8Array => splitSetGuestInfo(req.subarray(req.indexOf(0x20) + 1))!.data;
const SEEDS = [body(REAL_NIC_V3), body(REAL_NIC_V2), body(REAL_NIC_V1)];

const mutationArb = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 16 }) }),
  fc.record({ kind: fc.constant("repeat" as const), at: fc.nat(), len: fc.nat({ max: 64 }), times: fc.nat({ max: 20 }) }),
  // A count or length field pushed to a large or boundary value (big-endian u32 at a 4-byte boundary).
  fc.record({
    kind: fc.constant("u32" as const),
    at: fc.nat(),
    value: fc.constantFrom(0, 1, 16, 17, 100, 101, 255, 256, 2048, 2049, 16384, 16385, 0x7fffffff, 0xffffffff),
  }),
);

type Mutation = typeof mutationArb extends fc.Arbitrary<infer T> ? T : never;

function mutate(seed: Uint8Array, ms: Mutation[]): Uint8Array {
  let b = [...seed];
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    if (m.kind === "set" && at < b.length) b[at] = m.value;
    else if (m.kind === "truncate") b = b.slice(0, at);
    else if (m.kind === "insert") b.splice(at, 0, ...m.bytes);
    else if (m.kind === "repeat") {
      const slice = b.slice(at, at + m.len);
      for (let i = 0; i < m.times; i++) b.splice(at, 0, ...slice);
    } else if (m.kind === "u32") {
      const p = at & ~3;
      if (p + 4 <= b.length) b.splice(p, 4, (m.value >>> 24) & 0xff, (m.value >>> 16) & 0xff, (m.value >>> 8) & 0xff, m.value & 0xff);
    }
  }
  return Uint8Array.from(b.slice(0, 65000)); // a request must fit in one 64 KiB message
}

const bodyArb = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }) },
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...SEEDS), fc.array(mutationArb, { maxLength: 6 })).map(([s, ms]) => mutate(s, ms)) },
);
const requestArb = fc.record({ type: fc.constantFrom(1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 10, 10, 10, 11, 12, 99), body: bodyArb });

function checkDns(d: DnsConfig | null): void {
  if (d === null) return;
  assert.ok(d.servers.length <= DNSINFO_MAX_SERVERS);
  assert.ok(d.searchSuffixes.length <= DNSINFO_MAX_SUFFIXES);
  for (const n of [d.hostName, d.domainName, ...d.searchSuffixes]) assert.ok(n === null || n.length <= DNSINFO_MAX_ADDRLEN);
}

/** The model within every named bound. */
function checkBounds(s: GuestStateSnapshot): void {
  assert.ok(s.nics.length <= NICINFO_MAX_NICS);
  for (const n of s.nics) {
    assert.ok(n.mac.length <= NICINFO_MAC_LEN + 1); // the v1 struct's macAddress[19] need not hold a NUL
    assert.ok(n.ips.length <= NICINFO_MAX_IPS);
    checkDns(n.dns);
    for (const d of [n.dhcpv4, n.dhcpv6]) assert.ok(d === null || d.settings.length <= DHCP_MAX_CONFIG_SIZE);
  }
  assert.ok(s.routes.length <= NICINFO_MAX_ROUTES);
  checkDns(s.dns);
  for (const d of [s.dhcpv4, s.dhcpv6]) assert.ok(d === null || d.settings.length <= DHCP_MAX_CONFIG_SIZE);
  assert.ok(JSON.stringify(s).length <= MODEL_JSON_MAX);
}

test(`property: ${RUNS * REQUESTS} SetGuestInfo bodies never throw, stay within bounds, and a refusal changes nothing`, () => {
  const ch = new Channel(0, "rpci", false, 0, 0, 0n);
  let accepted = 0;
  let refused = 0;
  fc.assert(
    fc.property(fc.array(requestArb, { minLength: REQUESTS, maxLength: REQUESTS }), (reqs) => {
      const vm = new VirtualMachine({ clock: new VirtualClock(), random: new SeededRandom(3) });
      for (const { type, body: data } of reqs) {
        const before = JSON.stringify(vm.messaging.reported.snapshot());
        const msg = new Uint8Array([...enc.encode(`SetGuestInfo  ${type} `), ...data]);
        const reply = vm.messaging.rpci.dispatch(msg, ch);
        const after = vm.messaging.reported.snapshot();
        checkBounds(after);
        if (reply[0] === 0x30) {
          refused++;
          assert.equal(JSON.stringify(after), before, "a refused report changed the model");
        } else accepted++;
      }
      JSON.stringify(buildReport(vm)); // the report of whatever was accepted serialises
    }),
    { numRuns: RUNS },
  );
  // Both outcomes were exercised (the generator is not all-garbage, nor all-valid).
  assert.ok(accepted > RUNS && refused > RUNS, `accepted ${accepted}, refused ${refused}`);
});
