/**
 * The guestInfo plugin decoders: `SetGuestInfo` framing, text values, NIC info v3 and v2 (XDR), v1 (native
 * struct), detailed OS data (type 11), disk info v0 (type 3) and the `SetGuestDiskInfo` JSON report, with
 * fixtures captured from the real open-vm-tools 12.2.0 (`testdata/nic-reports.ts`) and hand-built ones in the same
 * layouts for what this machine's tools did not send (WINS, DHCP, origins, zones, the bounds).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  GuestInfoType,
  NICINFO_MAX_IPS,
  NICINFO_MAX_NICS,
  NICINFO_MAX_ROUTES,
  decodeDiskInfoJson,
  decodeDiskInfoV0,
  decodeNicInfoV1,
  decodeNicInfoV3,
  decodeOsDetailed,
  splitSetGuestInfo,
  textValue,
} from "./setguestinfo-reports.js";
import type { GuestNic, NicAddress } from "./reported-state.js";
import { REAL_NIC_V1, REAL_NIC_V2, REAL_NIC_V3 } from "./testdata/nic-reports.js";

/** ASCII bytes of `s`, as numbers to spread into a fixture. */
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));
/** UTF-8 bytes of `s`. */
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
/** One XDR unsigned int, big-endian. */
const be32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
/** rpcgen's `char x[n]`: every char a 4-byte big-endian int, NUL-filled. */
const charVector = (s: string, n: number): number[] => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(...be32(i < s.length ? s.charCodeAt(i) : 0));
  return out;
};

// GuestNicProto v3 as vmtoolsd sends it for one NIC with an IPv4 and an IPv6 address, one default route and a
// top-level DNS configuration.
// biome-ignore format: byte fixture, one instruction or field per line with its mnemonic beside it
const NIC_V3 = new Uint8Array([
  0x00, 0x00, 0x00, 0x03, // ver = NIC_INFO_V3
  0x00, 0x00, 0x00, 0x01, // nicInfoV3 pointer present
  0x00, 0x00, 0x00, 0x01, // nics: count 1
  //  nics[0]
  0x00, 0x00, 0x00, 0x11, // macAddress length 17
  ...ascii("00:50:56:aa:bb:cc"), 0x00, 0x00, 0x00, // macAddress, 3 pad bytes
  0x00, 0x00, 0x00, 0x02, // ips: count 2
  //    ips[0]
  0x00, 0x00, 0x00, 0x01, // InetAddressType = IAT_IPV4
  0x00, 0x00, 0x00, 0x04, // address length 4
  0xc0, 0x00, 0x02, 0x02, // 192.0.2.2
  0x00, 0x00, 0x00, 0x18, // prefixLength 24
  0x00, 0x00, 0x00, 0x00, // ipAddressOrigin absent
  0x00, 0x00, 0x00, 0x01, // ipAddressStatus present
  0x00, 0x00, 0x00, 0x01, // status = IAS_PREFERRED
  //    ips[1]
  0x00, 0x00, 0x00, 0x02, // InetAddressType = IAT_IPV6
  0x00, 0x00, 0x00, 0x10, // address length 16
  0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, // 2001:db8:0:0:
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // 0:0:0:1
  0x00, 0x00, 0x00, 0x40, // prefixLength 64
  0x00, 0x00, 0x00, 0x00, // ipAddressOrigin absent
  0x00, 0x00, 0x00, 0x01, // ipAddressStatus present
  0x00, 0x00, 0x00, 0x05, // status = IAS_UNKNOWN
  0x00, 0x00, 0x00, 0x00, // per-NIC dnsConfigInfo absent
  0x00, 0x00, 0x00, 0x00, // per-NIC winsConfigInfo absent
  0x00, 0x00, 0x00, 0x00, // per-NIC dhcpConfigInfov4 absent
  0x00, 0x00, 0x00, 0x00, // per-NIC dhcpConfigInfov6 absent
  0x00, 0x00, 0x00, 0x01, // routes: count 1
  //  routes[0]
  0x00, 0x00, 0x00, 0x01, // dest InetAddressType = IAT_IPV4
  0x00, 0x00, 0x00, 0x04, // dest length 4
  0x00, 0x00, 0x00, 0x00, // dest 0.0.0.0
  0x00, 0x00, 0x00, 0x00, // pfxLen 0
  0x00, 0x00, 0x00, 0x01, // nextHop present
  0x00, 0x00, 0x00, 0x01, // nextHop InetAddressType = IAT_IPV4
  0x00, 0x00, 0x00, 0x04, // nextHop length 4
  0xc0, 0x00, 0x02, 0x01, // nextHop 192.0.2.1
  0x00, 0x00, 0x00, 0x00, // ifIndex 0
  0x00, 0x00, 0x00, 0x04, // type = ICRT_REMOTE
  0x00, 0x00, 0x00, 0x64, // metric 100
  //  top level
  0x00, 0x00, 0x00, 0x01, // dnsConfigInfo present
  0x00, 0x00, 0x00, 0x01, // hostName present
  0x00, 0x00, 0x00, 0x0d, // hostName length 13
  ...ascii("simvm.example"), 0x00, 0x00, 0x00, // hostName, 3 pad bytes
  0x00, 0x00, 0x00, 0x01, // domainName present
  0x00, 0x00, 0x00, 0x07, // domainName length 7
  ...ascii("example"), 0x00, // domainName, 1 pad byte
  0x00, 0x00, 0x00, 0x01, // serverList: count 1
  0x00, 0x00, 0x00, 0x01, // server InetAddressType = IAT_IPV4
  0x00, 0x00, 0x00, 0x04, // server length 4
  0xc0, 0x00, 0x02, 0x35, // server 192.0.2.53
  0x00, 0x00, 0x00, 0x01, // searchSuffixes: count 1
  0x00, 0x00, 0x00, 0x07, // suffix length 7
  ...ascii("example"), 0x00, // suffix, 1 pad byte
  0x00, 0x00, 0x00, 0x00, // winsConfigInfo absent
  0x00, 0x00, 0x00, 0x00, // dhcpConfigInfov4 absent
  0x00, 0x00, 0x00, 0x00, // dhcpConfigInfov6 absent
]);

/** A v3 report of `nics` NICs that carry nothing (empty MAC, no IPs) and `routes` minimal routes. */
function emptyNicsV3(nics: number, routes = 0): Uint8Array {
  const b = [...be32(3), ...be32(1), ...be32(nics)]; // ver = NIC_INFO_V3, pointer present, nics count
  for (let i = 0; i < nics; i++) b.push(...be32(0), ...be32(0), ...be32(0), ...be32(0), ...be32(0), ...be32(0)); // mac "", no ips, 4 absent optionals
  b.push(...be32(routes));
  for (let i = 0; i < routes; i++) {
    b.push(...be32(1), ...be32(4), 10, 0, 0, 0, ...be32(8)); // dest 10.0.0.0/8
    b.push(...be32(0), ...be32(0), ...be32(3), ...be32(0)); // no next hop, ifIndex 0, ICRT_LOCAL, metric 0
  }
  b.push(...be32(0), ...be32(0), ...be32(0), ...be32(0)); // 4 absent top-level optionals
  return new Uint8Array(b);
}

/** A v3 report of one NIC with one IPv6 address (16 bytes, prefix 64). */
function oneIpv6(addr: number[]): Uint8Array {
  // biome-ignore format: byte fixture, one instruction or field per line with its mnemonic beside it
  return new Uint8Array([
    ...be32(3), ...be32(1), ...be32(1), // ver = NIC_INFO_V3, pointer present, 1 NIC
    ...be32(0), // empty MAC
    ...be32(1), ...be32(2), ...be32(16), ...addr, ...be32(64), ...be32(0), ...be32(0), // 1 IP: IAT_IPV6, 16 bytes, /64, no origin, no status
    ...be32(0), ...be32(0), ...be32(0), ...be32(0), // per-NIC optionals absent
    ...be32(0), // no routes
    ...be32(0), ...be32(0), ...be32(0), ...be32(0), // top-level optionals absent
  ]);
}

test("splitSetGuestInfo: the type and the data after the one space, binary data untouched", () => {
  const wire = new Uint8Array([...ascii("SetGuestInfo  10 "), 0x00, 0x00, 0x00, 0x03, 0xff, 0x20]);
  const args = wire.subarray(wire.indexOf(0x20) + 1); // what the RPCI dispatcher hands over
  const r = splitSetGuestInfo(args);
  assert.ok(r);
  assert.equal(r.type, GuestInfoType.IPADDRESS_V3);
  assert.deepEqual([...r.data], [0x00, 0x00, 0x00, 0x03, 0xff, 0x20]);

  const name = splitSetGuestInfo(new Uint8Array([...ascii(" 1 simvm.example"), 0x00]));
  assert.equal(name?.type, GuestInfoType.DNS_NAME);
  assert.equal(textValue(name!.data), "simvm.example");

  const noData = splitSetGuestInfo(new Uint8Array(ascii(" 7")));
  assert.equal(noData?.type, GuestInfoType.UPTIME);
  assert.equal(noData?.data.length, 0);
});

test("splitSetGuestInfo: no decimal type is null", () => {
  assert.equal(splitSetGuestInfo(new Uint8Array(ascii(" x 1"))), null);
  assert.equal(splitSetGuestInfo(new Uint8Array(ascii("  "))), null);
  assert.equal(splitSetGuestInfo(new Uint8Array(0)), null);
});

test("textValue strips trailing NULs only and decodes UTF-8", () => {
  assert.equal(textValue(new Uint8Array([...ascii("Debian"), 0x00])), "Debian");
  assert.equal(textValue(new Uint8Array([...ascii("Debian"), 0x00, 0x00, 0x00])), "Debian");
  assert.equal(textValue(new Uint8Array([0x61, 0x00, 0x62, 0x00])), "a\u0000b");
  assert.equal(textValue(new Uint8Array([0xc3, 0xa9, 0x00])), "é");
  assert.equal(textValue(new Uint8Array(0)), "");
});

/** The data of a `SetGuestInfo` request (what follows `"SetGuestInfo  N "`). */
function bodyOf(request: Uint8Array): Uint8Array {
  const r = splitSetGuestInfo(request.subarray(request.indexOf(0x20) + 1));
  assert.ok(r);
  return r.data;
}

/** An address as the v3 decoder reports it. */
const addr = (
  address: string,
  prefixLength: number | null,
  status: NicAddress["status"] = null,
  origin: NicAddress["origin"] = null,
): NicAddress => ({ address, prefixLength, origin, status });

/** A NIC with nothing but addresses. */
const bareNic = (mac: string, ips: NicAddress[]): GuestNic => ({ mac, ips, dns: null, wins: null, dhcpv4: null, dhcpv6: null });

/** What this machine's `ip -j addr` and `ip route` showed when the real reports were captured. */
const REAL_NIC = bareNic("02:fc:00:00:00:01", [
  addr("192.0.2.2", 24, "preferred"),
  addr("fd00::2", 64, "unknown"),
  addr("fe80::fc:ff:fe00:1", 64, "unknown"),
]);

test("NIC info v3 captured from vmware-toolbox-cmd info update network: every address, prefix, status, route and DNS", () => {
  assert.equal(splitSetGuestInfo(REAL_NIC_V3.subarray(13))?.type, GuestInfoType.IPADDRESS_V3);
  const r = decodeNicInfoV3(bodyOf(REAL_NIC_V3));
  const route = (destination: string, prefixLength: number, nextHop: string | null, metric: number) => ({
    destination,
    prefixLength,
    nextHop,
    ifIndex: 0,
    type: 0,
    metric,
  });
  assert.deepEqual(r, {
    version: 3,
    nics: [REAL_NIC],
    routes: [
      route("0.0.0.0", 0, "192.0.2.1", 0),
      route("192.0.2.0", 24, null, 0),
      route("fd00::", 64, null, 256),
      route("fe80::", 64, null, 256),
      route("::", 0, "fd00::1", 1024),
      route("fd00::2", 128, null, 0),
      route("fe80::fc:ff:fe00:1", 128, null, 0),
      route("ff00::", 8, null, 256),
    ],
    dns: { hostName: "vm", domainName: "", servers: ["10.255.255.53"], searchSuffixes: [] },
    wins: null,
    dhcpv4: null,
    dhcpv6: null,
  });
});

test("the same v3 body sent as type 9 (the guestInfo plugin's first fallback) decodes the same", () => {
  const body = bodyOf(REAL_NIC_V3);
  const as9 = new Uint8Array([...ascii("SetGuestInfo  9 "), ...body]); // the captured type-9 request is exactly this
  assert.equal(splitSetGuestInfo(as9.subarray(13))?.type, GuestInfoType.IPADDRESS_V2);
  assert.deepEqual(decodeNicInfoV3(bodyOf(as9)), decodeNicInfoV3(body));
});

test("NIC info v2 captured from vmtoolsd (GuestNicList over type 9): the same addresses and prefixes, no routes", () => {
  assert.equal(splitSetGuestInfo(REAL_NIC_V2.subarray(13))?.type, GuestInfoType.IPADDRESS_V2);
  assert.deepEqual(decodeNicInfoV3(bodyOf(REAL_NIC_V2)), {
    version: 2,
    nics: [bareNic("02:fc:00:00:00:01", [addr("192.0.2.2", 24), addr("fd00::2", 64), addr("fe80::fc:ff:fe00:1", 64)])],
    routes: [],
    dns: null,
    wins: null,
    dhcpv4: null,
    dhcpv6: null,
  });
});

test("NIC info v1 captured from vmtoolsd (type 2): the IPv4 address only; uninitialised bytes in unused slots ignored", () => {
  assert.equal(splitSetGuestInfo(REAL_NIC_V1.subarray(13))?.type, GuestInfoType.IPADDRESS);
  assert.deepEqual(decodeNicInfoV1(bodyOf(REAL_NIC_V1)), {
    version: 1,
    nics: [bareNic("02:fc:00:00:00:01", [addr("192.0.2.2", null)])],
    routes: [],
    dns: null,
    wins: null,
    dhcpv4: null,
    dhcpv6: null,
  });
});

test("captured reports: every truncation and every extra trailing byte is null, not a partial report", () => {
  for (const req of [REAL_NIC_V3, REAL_NIC_V2]) {
    const body = bodyOf(req);
    for (let n = 0; n < body.length; n++) assert.equal(decodeNicInfoV3(body.subarray(0, n)), null, `${n} of ${body.length} bytes`);
    assert.equal(decodeNicInfoV3(new Uint8Array([...body, 0x00])), null, "one NUL too many");
    assert.equal(decodeNicInfoV3(new Uint8Array([...body, 0x00, 0x00, 0x00, 0x00])), null, "four NULs too many");
  }
});

test("NIC info v3 (hand-built): origin, status, ICRT route type and a top-level DNS configuration", () => {
  const r = decodeNicInfoV3(NIC_V3);
  assert.deepEqual(r, {
    version: 3,
    nics: [bareNic("00:50:56:aa:bb:cc", [addr("192.0.2.2", 24, "preferred"), addr("2001:db8::1", 64, "unknown")])],
    routes: [{ destination: "0.0.0.0", prefixLength: 0, nextHop: "192.0.2.1", ifIndex: 0, type: "remote", metric: 100 }],
    dns: { hostName: "simvm.example", domainName: "example", servers: ["192.0.2.53"], searchSuffixes: ["example"] },
    wins: null,
    dhcpv4: null,
    dhcpv6: null,
  });
});

// A NIC with what the captured reports lack: every origin and an unnamed status, a zoned IPv6 address, per-NIC DNS,
// WINS, DHCPv4 and DHCPv6, and a global WINS and DHCPv4 configuration; a route with metric -1 ("unused").
// biome-ignore format: byte fixture, one instruction or field per line with its mnemonic beside it
const NIC_V3_FULL = new Uint8Array([
  ...be32(3), ...be32(1), // ver = NIC_INFO_V3, nicInfoV3 pointer present
  ...be32(1), // nics: count 1
  ...be32(17), ...ascii("00:50:56:00:00:01"), 0, 0, 0, // macAddress, 3 pad bytes
  ...be32(3), // ips: count 3
  ...be32(1), ...be32(4), 198, 51, 100, 7, ...be32(24), ...be32(1), ...be32(4), ...be32(1), ...be32(2), // 198.51.100.7/24, origin IAO_DHCP, status IAS_DEPRECATED
  ...be32(4), ...be32(20), 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, ...be32(2), // IAT_IPV6Z fe80::1, zone 2
  ...be32(64), ...be32(1), ...be32(5), ...be32(1), ...be32(99), // /64, origin IAO_LINKLAYER, status 99 (not in nicinfo.x)
  ...be32(1), ...be32(4), 10, 0, 0, 5, ...be32(8), ...be32(1), ...be32(2), ...be32(0), // 10.0.0.5/8, origin IAO_MANUAL, no status
  ...be32(1), // per-NIC dnsConfigInfo present
  ...be32(0), ...be32(1), ...be32(3), ...ascii("lan"), 0, // no hostName; domainName "lan", 1 pad byte
  ...be32(2), ...be32(1), ...be32(4), 192, 0, 2, 53, ...be32(2), ...be32(16), 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x35, // servers 192.0.2.53, 2001:db8::35
  ...be32(0), // searchSuffixes: count 0
  ...be32(1), ...be32(1), ...be32(4), 192, 0, 2, 137, ...be32(1), ...be32(4), 192, 0, 2, 138, // per-NIC WINS 192.0.2.137 / .138
  ...be32(1), ...be32(1), ...be32(8), ...ascii("lease=60"), // per-NIC DHCPv4: enabled, "lease=60"
  ...be32(1), ...be32(0), ...be32(0), // per-NIC DHCPv6: disabled, ""
  ...be32(1), // routes: count 1
  ...be32(1), ...be32(4), 10, 0, 0, 0, ...be32(8), ...be32(0), ...be32(0), ...be32(3), ...be32(0xffffffff), // 10.0.0.0/8, no next hop, if 0, ICRT_LOCAL, metric -1
  ...be32(0), // top-level dnsConfigInfo absent
  ...be32(1), ...be32(1), ...be32(4), 192, 0, 2, 1, ...be32(1), ...be32(4), 192, 0, 2, 2, // top-level WINS 192.0.2.1 / .2
  ...be32(1), ...be32(0), ...be32(5), ...ascii("x=1;y"), 0, 0, 0, // top-level DHCPv4: disabled, "x=1;y", 3 pad bytes
  ...be32(0), // top-level dhcpConfigInfov6 absent
]);

test("NIC info v3 (hand-built): per-NIC DNS, WINS, DHCPv4/v6, zoned IPv6, unnamed enum values, metric -1", () => {
  assert.deepEqual(decodeNicInfoV3(NIC_V3_FULL), {
    version: 3,
    nics: [
      {
        mac: "00:50:56:00:00:01",
        ips: [addr("198.51.100.7", 24, "deprecated", "dhcp"), addr("fe80::1%2", 64, 99, "linklayer"), addr("10.0.0.5", 8, null, "manual")],
        dns: { hostName: null, domainName: "lan", servers: ["192.0.2.53", "2001:db8::35"], searchSuffixes: [] },
        wins: { primary: "192.0.2.137", secondary: "192.0.2.138" },
        dhcpv4: { enabled: true, settings: "lease=60" },
        dhcpv6: { enabled: false, settings: "" },
      },
    ],
    routes: [{ destination: "10.0.0.0", prefixLength: 8, nextHop: null, ifIndex: 0, type: "local", metric: null }],
    dns: null,
    wins: { primary: "192.0.2.1", secondary: "192.0.2.2" },
    dhcpv4: { enabled: false, settings: "x=1;y" },
    dhcpv6: null,
  });
});

test("NIC info v3: an address whose length does not fit its type, or of an unknown type, makes the report null", () => {
  // biome-ignore format: byte fixture, one instruction or field per line with its mnemonic beside it
  const withAddress = (type: number, bytes: number[]): Uint8Array =>
    new Uint8Array([
      ...be32(3), ...be32(1), ...be32(1), ...be32(0), // v3, present, 1 NIC, empty MAC
      ...be32(1), ...be32(type), ...be32(bytes.length), ...bytes, ...new Array<number>((4 - (bytes.length % 4)) % 4).fill(0), // 1 address
      ...be32(32), ...be32(0), ...be32(0), // prefix 32, no origin, no status
      ...be32(0), ...be32(0), ...be32(0), ...be32(0), ...be32(0), // per-NIC optionals absent, no routes
      ...be32(0), ...be32(0), ...be32(0), ...be32(0), // top-level optionals absent
    ]);
  assert.equal(decodeNicInfoV3(withAddress(1, [192, 0, 2, 9]))?.nics[0]?.ips[0]?.address, "192.0.2.9"); // IAT_IPV4, 4 bytes
  assert.equal(decodeNicInfoV3(withAddress(3, [192, 0, 2, 9, 0, 0, 0, 7]))?.nics[0]?.ips[0]?.address, "192.0.2.9%7"); // IAT_IPV4Z
  assert.equal(decodeNicInfoV3(withAddress(16, ascii("ns.example")))?.nics[0]?.ips[0]?.address, "ns.example"); // IAT_DNS
  assert.equal(decodeNicInfoV3(withAddress(1, [192, 0, 2])), null); // IAT_IPV4 with 3 bytes
  assert.equal(decodeNicInfoV3(withAddress(2, [192, 0, 2, 9])), null); // IAT_IPV6 with 4 bytes
  assert.equal(decodeNicInfoV3(withAddress(0, [])), null); // IAT_UNKNOWN
  assert.equal(decodeNicInfoV3(withAddress(16, [0x61, 0x00])), null); // IAT_DNS with a NUL
});

test("NIC info v3: IPv6 text follows RFC 5952 (longest zero run, first on a tie, none for a single group)", () => {
  const cases: [number[], string][] = [
    [[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x50, 0x56, 0xff, 0xfe, 0xaa, 0xbb, 0xcc], "fe80::250:56ff:feaa:bbcc"],
    [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], "::1"],
    [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "::"],
    [[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0], "2001:db8:0:0:1::"],
    [[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1], "2001:db8::1:0:0:1"],
    [[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1], "2001:db8:0:1:1:1:1:1"],
  ];
  for (const [addr, text] of cases) {
    assert.equal(decodeNicInfoV3(oneIpv6(addr))?.nics[0]?.ips[0]?.address, text, text);
  }
});

test("NIC info v3: every truncation is null, not a partial report", () => {
  for (let n = 0; n < NIC_V3.length; n++) assert.equal(decodeNicInfoV3(NIC_V3.subarray(0, n)), null, `${n} bytes`);
});

test("NIC info v3: counts above the nicinfo.x maxima are null; at the maxima they decode", () => {
  assert.equal(decodeNicInfoV3(emptyNicsV3(NICINFO_MAX_NICS))?.nics.length, 16);
  assert.equal(decodeNicInfoV3(emptyNicsV3(NICINFO_MAX_NICS + 1)), null);
  assert.equal(decodeNicInfoV3(emptyNicsV3(0, NICINFO_MAX_ROUTES))?.routes.length, 100);
  assert.equal(decodeNicInfoV3(emptyNicsV3(0, NICINFO_MAX_ROUTES + 1)), null);
  const manyIps = (n: number): Uint8Array => {
    const b = [...be32(3), ...be32(1), ...be32(1), ...be32(0), ...be32(n)]; // v3, present, 1 NIC, empty MAC, n IPs
    for (let i = 0; i < n; i++) b.push(...be32(1), ...be32(4), 10, (i >> 8) & 0xff, i & 0xff, 1, ...be32(32), ...be32(0), ...be32(0)); // 10.x.y.1/32
    b.push(...be32(0), ...be32(0), ...be32(0), ...be32(0), ...be32(0), ...be32(0), ...be32(0), ...be32(0), ...be32(0)); // optionals, no routes
    return new Uint8Array(b);
  };
  assert.equal(manyIps(NICINFO_MAX_IPS).length < 65536, true); // fits in one message
  assert.equal(decodeNicInfoV3(manyIps(NICINFO_MAX_IPS))?.nics[0]?.ips.length, NICINFO_MAX_IPS);
  assert.equal(decodeNicInfoV3(manyIps(NICINFO_MAX_IPS + 1)), null);
});

test("NIC info v3: a MAC string longer than 18 bytes is null", () => {
  // biome-ignore format: byte fixture, one instruction or field per line with its mnemonic beside it
  const mac19 = new Uint8Array([
    ...be32(3), ...be32(1), ...be32(1), // ver = NIC_INFO_V3, pointer present, 1 NIC
    ...be32(19), ...ascii("00:50:56:aa:bb:cc:d"), 0x00, // macAddress length 19 (> NICINFO_MAC_LEN), 1 pad byte
    ...be32(0), ...be32(0), ...be32(0), ...be32(0), ...be32(0), // no ips, per-NIC optionals absent
    ...be32(0), ...be32(0), ...be32(0), ...be32(0), ...be32(0), // no routes, top-level optionals absent
  ]);
  assert.equal(decodeNicInfoV3(mac19), null);
});

test("NIC info v3: unknown versions and an absent body are null", () => {
  assert.equal(decodeNicInfoV3(new Uint8Array([0x00, 0x00, 0x00, 0x01])), null); // ver = NIC_INFO_V1 (no XDR form)
  assert.equal(decodeNicInfoV3(new Uint8Array([0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01])), null); // ver = 4
  assert.equal(decodeNicInfoV3(new Uint8Array([0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00])), null); // v3, pointer absent
});

test("NIC info v2 (GuestNicList): char vectors of 4-byte ints, subnetMask as a decimal prefix", () => {
  // biome-ignore format: byte fixture, one instruction or field per line with its mnemonic beside it
  const v2 = new Uint8Array([
    0x00, 0x00, 0x00, 0x02, // ver = NIC_INFO_V2
    0x00, 0x00, 0x00, 0x01, // nicsV2 pointer present
    0x00, 0x00, 0x00, 0x01, // nics: count 1
    ...charVector("00:50:56:aa:bb:cc", 18), // char macAddress[18]
    0x00, 0x00, 0x00, 0x02, // ips: count 2
    0x00, 0x00, 0x00, 0x00, // addressFamily = NICINFO_ADDR_IPV4
    0x00, 0x00, 0x00, 0x00, // dhcpEnabled = FALSE
    ...charVector("192.0.2.2", 64), // char ipAddress[64]
    ...charVector("24", 64), // char subnetMask[64]
    0x00, 0x00, 0x00, 0x01, // addressFamily = NICINFO_ADDR_IPV6
    0x00, 0x00, 0x00, 0x00, // dhcpEnabled = FALSE
    ...charVector("2001:db8::1", 64), // char ipAddress[64]
    ...charVector("64", 64), // char subnetMask[64]
  ]);
  assert.deepEqual(decodeNicInfoV3(v2), {
    version: 2,
    nics: [bareNic("00:50:56:aa:bb:cc", [addr("192.0.2.2", 24), addr("2001:db8::1", 64)])],
    routes: [],
    dns: null,
    wins: null,
    dhcpv4: null,
    dhcpv6: null,
  });
  assert.equal(decodeNicInfoV3(v2.subarray(0, v2.length - 4)), null); // last char of subnetMask missing
});

test("NIC info v2: a contiguous hexadecimal mask becomes a prefix length, any other mask leaves it unknown", () => {
  // biome-ignore format: byte fixture, one instruction or field per line with its mnemonic beside it
  const withMask = (mask: string, dhcp: number): Uint8Array =>
    new Uint8Array([
      0x00, 0x00, 0x00, 0x02, // ver = NIC_INFO_V2
      0x00, 0x00, 0x00, 0x01, // nicsV2 pointer present
      0x00, 0x00, 0x00, 0x01, // nics: count 1
      ...charVector("00:50:56:aa:bb:cc", 18), // char macAddress[18]
      0x00, 0x00, 0x00, 0x01, // ips: count 1
      0x00, 0x00, 0x00, 0x00, // addressFamily = NICINFO_ADDR_IPV4
      ...be32(dhcp), // dhcpEnabled
      ...charVector("198.51.100.7", 64), // char ipAddress[64]
      ...charVector(mask, 64), // char subnetMask[64]
    ]);
  const ip = (mask: string, dhcp = 0) => decodeNicInfoV3(withMask(mask, dhcp))?.nics[0]?.ips[0];
  assert.deepEqual(ip("0xffffff00", 1), addr("198.51.100.7", 24, null, "dhcp")); // dhcpEnabled = TRUE → origin dhcp
  assert.equal(ip("0xffffffff")?.prefixLength, 32);
  assert.equal(ip("0x0")?.prefixLength, 0);
  assert.equal(ip("0xff00ff00")?.prefixLength, null); // not contiguous
  assert.equal(ip("255.255.255.0")?.prefixLength, null); // not a form nicinfo.x allows
  assert.equal(ip("129")?.prefixLength, null);
});

test("NIC info v1 (type 2): 2436-byte native struct, numIPs bounds the addresses read", () => {
  const b = new Uint8Array(2436);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 2, true); // numNicEntries = 2
  dv.setUint32(4, 2, true); // nicList[0].numIPs = 2
  b.set(ascii("00-50-56-aa-bb-cc"), 4 + 4); // nicList[0].macAddress
  b.set(ascii("192.0.2.2"), 4 + 23); // nicList[0].ipAddress[0]
  b.set(ascii("198.51.100.7"), 4 + 23 + 16); // nicList[0].ipAddress[1]
  b.set(ascii("203.0.113.9"), 4 + 23 + 32); // nicList[0].ipAddress[2], beyond numIPs
  dv.setUint32(4 + 152, 1, true); // nicList[1].numIPs = 1
  b.set(ascii("00-50-56-dd-ee-ff"), 4 + 152 + 4); // nicList[1].macAddress
  b.set(ascii("10.1.2.3"), 4 + 152 + 23); // nicList[1].ipAddress[0]
  assert.deepEqual(decodeNicInfoV1(b), {
    version: 1,
    nics: [
      bareNic("00-50-56-aa-bb-cc", [addr("192.0.2.2", null), addr("198.51.100.7", null)]),
      bareNic("00-50-56-dd-ee-ff", [addr("10.1.2.3", null)]),
    ],
    routes: [],
    dns: null,
    wins: null,
    dhcpv4: null,
    dhcpv6: null,
  });
  assert.equal(decodeNicInfoV1(b.subarray(0, 2435)), null);
});

test("NIC info v1: a count above 16 reads the 16 entries there are", () => {
  const b = new Uint8Array(2436);
  new DataView(b.buffer).setUint32(0, 0xffffffff, true); // numNicEntries = 2^32 - 1
  assert.equal(decodeNicInfoV1(b)?.nics.length, 16);
});

/** A type-11 message: the 648-byte header then the NUL-terminated details. */
function osDetailed(shortName: string, fullName: string, details: string): Uint8Array {
  const body = utf8(details);
  const b = new Uint8Array(648 + body.length + 1);
  new DataView(b.buffer).setUint32(0, 1, true); // version = 1
  b.set(utf8(shortName), 4); // char shortName[129]
  b.set(utf8(fullName), 133); // char fullName[513]
  b.set(body, 648); // key='value' pairs, then the NUL already in place
  return b;
}

test("OS detailed (type 11): header names and key='value' pairs with \\' and \\\\ escapes", () => {
  const details =
    "architecture='X86' bitness='64' distroName='Debian GNU/Linux' prettyName='Debian GNU\\'s Linux 12' kernelVersion='6.1.0-13-amd64' familyName='Linux' cpeString='a\\\\b'";
  const r = decodeOsDetailed(osDetailed("debian12-64", "Debian GNU/Linux 12 (bookworm)", details));
  assert.deepEqual(r, {
    version: 1,
    shortName: "debian12-64",
    fullName: "Debian GNU/Linux 12 (bookworm)",
    architecture: "X86",
    bitness: "64",
    distroName: "Debian GNU/Linux",
    prettyName: "Debian GNU's Linux 12",
    kernelVersion: "6.1.0-13-amd64",
    familyName: "Linux",
    cpeString: "a\\b",
  });
});

test("OS detailed: shorter than the 648-byte header is null; a header with no pairs decodes", () => {
  assert.equal(decodeOsDetailed(new Uint8Array(647)), null);
  const r = decodeOsDetailed(osDetailed("other", "Other", ""));
  assert.deepEqual(r, { version: 1, shortName: "other", fullName: "Other" });
});

test("disk info v0 (type 3): u8 count, packed 116-byte entries, trailing bytes ignored", () => {
  const b = new Uint8Array(1 + 2 * 116 + 2);
  const dv = new DataView(b.buffer);
  b[0] = 2; // partition count
  dv.setBigUint64(1, 3_000_000_000n, true); // [0] freeBytes
  dv.setBigUint64(1 + 8, 10_000_000_000n, true); // [0] totalBytes
  b.set(ascii("/"), 1 + 16); // [0] name
  dv.setBigUint64(1 + 116, 400_000_000n, true); // [1] freeBytes
  dv.setBigUint64(1 + 116 + 8, 500_000_000n, true); // [1] totalBytes
  b.set(ascii("/boot"), 1 + 116 + 16); // [1] name; the last 2 bytes stay zero
  assert.deepEqual(decodeDiskInfoV0(b), [
    { name: "/", freeBytes: 3_000_000_000, totalBytes: 10_000_000_000, filesystem: null },
    { name: "/boot", freeBytes: 400_000_000, totalBytes: 500_000_000, filesystem: null },
  ]);
  assert.equal(decodeDiskInfoV0(b.subarray(0, 1 + 116 + 115)), null); // second entry cut
  assert.equal(decodeDiskInfoV0(new Uint8Array(0)), null);
  assert.deepEqual(decodeDiskInfoV0(new Uint8Array([0x00, 0x00, 0x00])), []); // count 0, 2 trailing zeros
});

test("SetGuestDiskInfo JSON: base64 names, decimal strings, fstype, trailing NUL", () => {
  const json =
    '{"version":"1","disks":[{"name":"Lw==","free":"123","size":"456","fstype":"ext4","devices":["scsi0:0"]},' +
    '{"name":"L21udC9kb25uw6llcw==","free":"1","size":"2"}]}';
  const r = decodeDiskInfoJson(new Uint8Array([...utf8(json), 0x00]));
  assert.deepEqual(r, [
    { name: "/", freeBytes: 123, totalBytes: 456, filesystem: "ext4" },
    { name: "/mnt/données", freeBytes: 1, totalBytes: 2, filesystem: null },
  ]);
});

test("SetGuestDiskInfo JSON: malformed reports are null", () => {
  for (const bad of ["", "{", "[]", '{"version":"1"}', '{"disks":[1]}', '{"disks":[{"free":"1"}]}']) {
    assert.equal(decodeDiskInfoJson(utf8(bad)), null, bad);
  }
  assert.equal(decodeDiskInfoJson(new Uint8Array([0x7b, 0xff, 0x7d])), null); // "{", invalid UTF-8, "}"
});
