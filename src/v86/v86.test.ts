/**
 * The v86 embedding and the QEMU differential: the backdoor-table kernel (nasm, Multiboot) runs under
 * `vmport v86` (v86 + SeaBIOS + vmport) and under `qemu-system-i386 -machine pc,vmport=on` (TCG); the outputs must
 * agree field by field except for the documented divergences. Also: the message channel over LB and HB and the
 * vmmouse handshake inside v86.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, needs, runs, vmport } from "../test-support/system.js";
import { ALLOWED, compareOutputs, tableRows } from "./compare.js";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

const nasm = needs("nasm", "nasm", () => runs("nasm", ["-v"]));
const bios = needs("SeaBIOS", "seabios", () => existsSync("/usr/share/seabios/bios.bin"));
const qemu = needs("QEMU", "qemu-system-x86", () => runs("qemu-system-i386", ["--version"]));
const skipV86 = nasm || bios;
const dir = mkdtempSync(join(tmpdir(), "vmport-v86-"));
const kernel = join(dir, "table.bin");
if (!skipV86) {
  const r = spawnSync("nasm", ["-f", "bin", "-o", kernel, join(ROOT, "src/v86/testdata/backdoor-table.asm")], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
}

function underV86(...extra: string[]) {
  return vmport(["v86", "--guestinfo", "foo=bar", ...extra, "--multiboot", kernel], { timeoutMs: 90_000 });
}

test("vmport v86: the whole table, the vmmouse handshake and RPCI over LB and HB; exit via isa-debug-exit", { skip: skipV86 }, () => {
  const r = underV86();
  assert.equal(r.status, 1, r.stderr); // (0 << 1) | 1, as QEMU's isa-debug-exit
  assert.match(r.stdout, /^GETVERSION 00000006 564D5868 00000002 00005658 11111111 22222222$/m);
  assert.match(r.stdout, /^GETHWVERSION 00000004 564D5868 /m);
  assert.match(r.stdout, /^GETMEMSIZE 00000800 /m);
  assert.match(r.stdout, /^UNKNOWN_0x99 FFFFFFFF 00000000 00000099 /m);
  assert.match(r.stdout, /^MOUSE_DATA1 3442554A /m);
  assert.match(r.stdout, /^MOUSE_STATUS3 FFFF0000 /m);
  assert.match(r.stdout, /^RPCI-LB 1 bar$/m);
  assert.match(r.stdout, /^RPCI-HB 1 bar$/m);
});

test("differential: vmport in v86 against QEMU's vmport, only documented divergences", { skip: skipV86 || qemu }, () => {
  const ours = underV86();
  const q = spawnSync(
    "qemu-system-i386",
    [
      "-machine",
      "pc,vmport=on",
      "-accel",
      "tcg",
      "-m",
      "64",
      "-display",
      "none",
      "-serial",
      "stdio",
      "-monitor",
      "none",
      "-no-reboot",
      "-device",
      "isa-debug-exit,iobase=0xf4,iosize=0x04",
      "-kernel",
      kernel,
    ],
    { encoding: "utf8", timeout: 60_000 },
  );
  assert.equal(q.status, 1, q.stderr);
  const diff = compareOutputs(ours.stdout, q.stdout);
  assert.deepEqual(diff, [], JSON.stringify(diff, null, 1));
  // The comparison is not vacuous: every call appears in both outputs, and the allow-list is used.
  assert.ok(ours.stdout.split("\n").length >= 20);
  assert.ok(compareOutputs(ours.stdout, q.stdout, []).length >= ALLOWED.length);
});

test("vmport compare: exit 0 for documented divergences only, 1 otherwise", () => {
  const { writeFileSync } = require("node:fs") as typeof import("node:fs");
  const a = join(dir, "a.txt");
  const b = join(dir, "b.txt");
  writeFileSync(a, "GETVERSION 00000006 564D5868 00000002\nGETMEMSIZE 00000800 00000000\n");
  writeFileSync(b, "GETVERSION 00000006 564D5868 00000002\nGETMEMSIZE 04000000 00001177\n");
  assert.equal(vmport(["compare", a, b]).status, 0);
  writeFileSync(b, "GETVERSION 00000006 564D5868 0000000A\nGETMEMSIZE 04000000 00001177\n");
  const r = vmport(["compare", a, b]);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /^GETVERSION field 2: ours 00000002 theirs 0000000A$/m);
});

test("vmport compare refuses inputs without a table: exit 2, one vmport: line, nothing on stdout", () => {
  const { writeFileSync } = require("node:fs") as typeof import("node:fs");
  const good = join(dir, "good.txt");
  const prose = join(dir, "prose.txt");
  writeFileSync(good, "GETVERSION 00000006 564D5868 00000002\n");
  writeFileSync(prose, "SeaBIOS (version 1.16)\nBooting from ROM...\nRPCI-LB 1 bar\n");
  for (const [a, b, why] of [
    ["/dev/null", "/dev/null", /\/dev\/null: no backdoor table/],
    [good, "/dev/null", /\/dev\/null: no backdoor table/],
    [prose, good, /prose\.txt: no backdoor table/],
    [good, "/dev/zero", /\/dev\/zero: larger than 1048576 bytes/],
    [good, join(dir, "missing.txt"), /missing\.txt: ENOENT/],
  ] as const) {
    const r = vmport(["compare", a, b]);
    assert.equal(r.status, 2, `${a} ${b}: ${r.stdout}${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^vmport: compare: /);
    assert.match(lines[0]!, why);
    assert.equal(r.stdout, "");
  }
  assert.equal(tableRows("GETVERSION 00000006 564D5868 00000002\nnoise\n"), 1);
});

test("the comparison fails on an unexplained difference", () => {
  const a = "GETVERSION 00000006 564D5868 00000002\nGETMEMSIZE 00000800 00000000\n";
  const b = "GETVERSION 00000006 564D5868 0000000A\nGETMEMSIZE 04000000 00001177\n";
  assert.deepEqual(compareOutputs(a, b), [{ call: "GETVERSION", field: 2, ours: "00000002", theirs: "0000000A" }]);
});

test("v86's own device (--builtin) leaves ECX on GETVERSION — the reason vmport replaces it", { skip: skipV86 }, () => {
  const r = underV86("--builtin");
  assert.match(r.stdout, /^GETVERSION 00000006 564D5868 0000000A /m);
});

test("the runnable example boots the kernel with vmport attached", {
  skip: skipV86 || (existsSync(join(ROOT, "dist/v86/index.js")) ? false : "needs `npm run build` (npm ci runs it)"),
}, () => {
  const r = spawnSync(process.execPath, [join(ROOT, "examples/v86-with-vmport.mjs"), kernel], {
    encoding: "utf8",
    timeout: 60_000,
    cwd: ROOT,
  });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /^RPCI-HB 1 bar$/m);
});
