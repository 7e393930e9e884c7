/**
 * The guestInfo plugin decoders: `SetGuestInfo` framing, text values, NIC info v3 and v2 (XDR), v1 (native
 * struct), detailed OS data (type 11), disk info v0 (type 3) and the `SetGuestDiskInfo` JSON report, with
 * hand-built fixtures in the byte layouts open-vm-tools 12.2.0 sends.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  GuestInfoType,
  NICINFO_MAX_NICS,
  NICINFO_MAX_ROUTES,
  decodeDiskInfoJson,
  decodeDiskInfoV0,
  decodeNicInfoV1,
  decodeNicInfoV3,
  decodeOsDetailed,
  splitSetGuestInfo,
  textValue,
} from "./guest-info-decoders.js";

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

test("NIC info v3: NICs, addresses with prefixes, compressed IPv6, DNS host name, route count", () => {
  const r = decodeNicInfoV3(NIC_V3);
  assert.deepEqual(r, {
    nics: [
      {
        mac: "00:50:56:aa:bb:cc",
        ips: [
          { address: "192.0.2.2", prefixLength: 24 },
          { address: "2001:db8::1", prefixLength: 64 },
        ],
      },
    ],
    hostName: "simvm.example",
    domainName: "example",
    routes: 1,
  });
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
  assert.equal(decodeNicInfoV3(emptyNicsV3(0, NICINFO_MAX_ROUTES))?.routes, 100);
  assert.equal(decodeNicInfoV3(emptyNicsV3(0, NICINFO_MAX_ROUTES + 1)), null);
});

test("NIC info v3: a MAC string longer than 18 bytes is null", () => {
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
    nics: [
      {
        mac: "00:50:56:aa:bb:cc",
        ips: [
          { address: "192.0.2.2", prefixLength: 24 },
          { address: "2001:db8::1", prefixLength: 64 },
        ],
      },
    ],
    hostName: null,
    domainName: null,
    routes: 0,
  });
  assert.equal(decodeNicInfoV3(v2.subarray(0, v2.length - 4)), null); // last char of subnetMask missing
});

test("NIC info v2: a hexadecimal mask leaves the prefix length unknown", () => {
  const v2 = new Uint8Array([
    0x00, 0x00, 0x00, 0x02, // ver = NIC_INFO_V2
    0x00, 0x00, 0x00, 0x01, // nicsV2 pointer present
    0x00, 0x00, 0x00, 0x01, // nics: count 1
    ...charVector("00:50:56:aa:bb:cc", 18), // char macAddress[18]
    0x00, 0x00, 0x00, 0x01, // ips: count 1
    0x00, 0x00, 0x00, 0x00, // addressFamily = NICINFO_ADDR_IPV4
    0x00, 0x00, 0x00, 0x01, // dhcpEnabled = TRUE
    ...charVector("198.51.100.7", 64), // char ipAddress[64]
    ...charVector("0xffffff00", 64), // char subnetMask[64]
  ]);
  assert.deepEqual(decodeNicInfoV3(v2)?.nics[0]?.ips, [{ address: "198.51.100.7", prefixLength: null }]);
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
    nics: [
      { mac: "00-50-56-aa-bb-cc", ips: [{ address: "192.0.2.2", prefixLength: null }, { address: "198.51.100.7", prefixLength: null }] },
      { mac: "00-50-56-dd-ee-ff", ips: [{ address: "10.1.2.3", prefixLength: null }] },
    ],
    hostName: null,
    domainName: null,
    routes: 0,
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
  const details = "architecture='X86' bitness='64' distroName='Debian GNU/Linux' prettyName='Debian GNU\\'s Linux 12' kernelVersion='6.1.0-13-amd64' familyName='Linux' cpeString='a\\\\b'";
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
  const json = '{"version":"1","disks":[{"name":"Lw==","free":"123","size":"456","fstype":"ext4","devices":["scsi0:0"]},' +
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
