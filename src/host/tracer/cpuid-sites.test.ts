/**
 * The CPUID site scanner on its own: windowed sweeps equal one sweep, ELF section tables are read with bounds,
 * and files a program maps are opened only when they are regular files that still are the mapped inode.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, mkdtempSync, writeFileSync, statSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { CpuidSiteCache, openMapped, readSections, sweep, sweepSection, type ScanCounters } from "./cpuid-sites.js";

const counters = (): ScanCounters => ({ notRegular: 0, unreadable: 0, tooLarge: 0, scanned: 0 });

test("a windowed sweep finds exactly the cpuids of one sweep, whatever the window (instructions cross windows)", () => {
  // Random instruction soup with cpuid (0F A2) and long instructions that straddle window edges.
  const pieces = [
    [0x0f, 0xa2],
    [0x90],
    [0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8] /* mov rax, imm64 */,
    [0x66, 0x0f, 0xa2],
    [0xc3],
    [0x0f, 0x0b] /* ud2 */,
    [0xb8, 0x0f, 0xa2, 0, 0] /* mov eax with 0F A2 inside */,
  ];
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: pieces.length - 1 }), { minLength: 1, maxLength: 400 }),
      fc.integer({ min: 1, max: 64 }),
      (idx, window) => {
        const code = Uint8Array.from(idx.flatMap((i) => pieces[i]!));
        const whole = sweep(code, 64, 1000).sites;
        const pread = (pos: number, len: number) => code.subarray(pos - 1000, pos - 1000 + len);
        assert.deepEqual(sweepSection(pread, 64, 1000, code.length, undefined, window), whole);
      },
    ),
    { numRuns: 300 },
  );
});

test("section tables: a table past the end of the file or larger than the bound is refused", () => {
  const h = new Uint8Array(64);
  h.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  const dv = new DataView(h.buffer);
  dv.setBigUint64(0x28, 1_000_000n, true); // e_shoff
  dv.setUint16(0x3a, 64, true);
  dv.setUint16(0x3c, 4, true);
  assert.equal(
    readSections((p, n) => (p === 0 ? h.subarray(0, n) : new Uint8Array(0)), 2000),
    null,
  );
  dv.setBigUint64(0x28, 64n, true);
  dv.setUint16(0x3c, 65535, true); // 4 MiB of section headers
  const c = counters();
  assert.equal(
    readSections((p, n) => (p === 0 ? h.subarray(0, n) : new Uint8Array(n)), 10_000_000, c),
    null,
  );
  assert.equal(c.tooLarge, 1);
});

test("openMapped: a FIFO or device is refused at once; a path that now names another inode is not read", () => {
  const d = mkdtempSync(join(tmpdir(), "vmport-om-"));
  const fifo = join(d, "fifo");
  assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
  const c = counters();
  assert.equal(openMapped([fifo], null, c), null);
  assert.equal(openMapped(["/dev/zero"], null, c), null);
  assert.equal(c.notRegular, 2);
  const f = join(d, "lib.so");
  writeFileSync(f, "x");
  assert.equal(openMapped([f], statSync(f).ino + 1, c), null);
  assert.equal(c.unreadable, 1);
  const ok = openMapped([join(d, "missing"), f], statSync(f).ino, c);
  assert.ok(ok !== null);
  closeSync(ok.fd);
});

test("sites of a real library: only those inside the mapped range; the second lookup comes from the cache", {
  skip: spawnSync("gcc", ["--version"]).error ? "needs gcc" : false,
}, () => {
  const d = mkdtempSync(join(tmpdir(), "vmport-lib-"));
  const lib = join(d, "libcpuid.so");
  assert.equal(spawnSync("gcc", ["-shared", "-fPIC", "-O1", "-o", lib, join(import.meta.dirname, "testdata", "libcpuid.c")]).status, 0);
  const cache = new CpuidSiteCache(join(d, "cache"), () => {});
  const file = openMapped([lib], null, counters())!;
  const size = statSync(lib).size;
  const all = cache.sitesInRange(file, 0, size);
  assert.ok(all.length >= 1);
  assert.deepEqual(cache.sitesInRange(file, 0, 64), []); // the ELF header holds no code
  const scanned = cache.counters.scanned;
  assert.ok(scanned >= 1);
  assert.deepEqual(cache.sitesInRange(file, 0, size), all);
  assert.equal(cache.counters.scanned, scanned, "the second lookup is served from memory");
  const again = new CpuidSiteCache(join(d, "cache"), () => {});
  assert.deepEqual(again.sitesInRange(file, 0, size), all);
  assert.equal(again.counters.scanned, 0, "read from the disk cache");
  closeSync(file.fd);
});
