/**
 * Atomic writes that cannot be redirected or leave debris: planted symlinks at temp names, the link helper, a
 * SIGKILL in the middle of a save loop (50 kills), host-named files that are not regular files.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync, lstatSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkWritableTarget,
  HOST_FILE_LIMITS,
  linkHelperCode,
  prepareDurableWrites,
  readHostFile,
  readStateFile,
  tempNameFor,
  writeDurableFile,
  writeFileAtomic,
  durableWriteCounters,
} from "./state-file.js";
import { ROOT } from "../test-support/system.js";

const linux = process.platform === "linux" && process.arch === "x64" ? false : "needs Linux on x86-64";

function dir(): string {
  return mkdtempSync(join(tmpdir(), "vmport-sf-"));
}

test("temp names are unpredictable: 64 random bits, never the pid", () => {
  const names = new Set(Array.from({ length: 1000 }, () => tempNameFor("/x/vm.json")));
  assert.equal(names.size, 1000);
  for (const n of names) {
    assert.match(n, /^\/x\/\.vm\.json\.[0-9a-f]{16}\.tmp$/);
    assert.ok(!n.includes(`.${process.pid}.`));
  }
});

test("writeFileAtomic: symlinks planted at the old predictable names do not redirect the write; nothing is left behind", () => {
  const d = dir();
  const victim = join(d, "victim");
  writeFileSync(victim, "untouched");
  // The names the previous implementation used (.NAME.<pid>.tmp) for this and the next pids, all planted.
  for (let p = process.pid; p < process.pid + 200; p++) symlinkSync(victim, join(d, `.vm.json.${p}.tmp`));
  writeFileAtomic(join(d, "vm.json"), "{}\n");
  assert.equal(readFileSync(victim, "utf8"), "untouched");
  assert.equal(readFileSync(join(d, "vm.json"), "utf8"), "{}\n");
  assert.equal((statSync(join(d, "vm.json")).mode & 0o777).toString(8), "600");
  const left = readdirSync(d).filter((n) => n.endsWith(".tmp") && !lstatSync(join(d, n)).isSymbolicLink());
  assert.deepEqual(left, []);
});

test("writeFileAtomic: a failing write removes its temp file (the target directory is not writable as a file)", () => {
  const d = dir();
  const target = join(d, "sub");
  mkdirSync(target); // rename onto a non-empty... a directory target makes rename fail
  writeFileSync(join(target, "x"), "");
  assert.throws(() => writeFileAtomic(target, "data"));
  assert.deepEqual(
    readdirSync(d).filter((n) => n.endsWith(".tmp")),
    [],
  );
});

test("the link helper is position-independent x86-64 code that exits through exit_group on every path", () => {
  const code = linkHelperCode();
  // Three exits: success, rename failed, link failed; each `mov eax, 231; syscall`.
  let exits = 0;
  for (let i = 0; i + 6 < code.length; i++)
    if (code[i] === 0xb8 && code[i + 1] === 231 && code[i + 5] === 0x0f && code[i + 6] === 0x05) exits++;
  assert.equal(exits, 3);
  assert.ok(code.length < 200);
});

test("writeDurableFile: O_TMPFILE + link helper writes the file, mode 0600, no temp file, symlinks planted at old names ignored", {
  skip: linux,
}, async () => {
  await prepareDurableWrites();
  const d = dir();
  const victim = join(d, "victim");
  writeFileSync(victim, "untouched");
  for (let p = process.pid; p < process.pid + 200; p++) symlinkSync(victim, join(d, `.state.json.${p}.tmp`));
  const before = durableWriteCounters.tmpfile;
  for (let i = 0; i < 20; i++) writeDurableFile(join(d, "state.json"), JSON.stringify({ i }));
  assert.equal(durableWriteCounters.tmpfile - before, 20, "O_TMPFILE path taken (tmpfs/ext4 support it)");
  assert.deepEqual(JSON.parse(readFileSync(join(d, "state.json"), "utf8")), { i: 19 });
  assert.equal((statSync(join(d, "state.json")).mode & 0o777).toString(8), "600");
  assert.equal(readFileSync(victim, "utf8"), "untouched");
  assert.deepEqual(
    readdirSync(d).filter((n) => n.endsWith(".tmp") && !lstatSync(join(d, n)).isSymbolicLink()),
    [],
  );
});

test("writeDurableFile: a target that cannot be replaced is an error, and nothing is left behind", { skip: linux }, async () => {
  await prepareDurableWrites();
  const d = dir();
  mkdirSync(join(d, "t"));
  writeFileSync(join(d, "t", "x"), "");
  assert.throws(() => writeDurableFile(join(d, "t"), "data"), /rename failed/);
  assert.deepEqual(
    readdirSync(d).filter((n) => n.endsWith(".tmp")),
    [],
  );
});

test("SIGKILL in the middle of a save loop, 50 times: the state file always parses, no temp file is ever left", {
  skip: linux,
}, async () => {
  const d = dir();
  const target = join(d, "vm.json");
  // The same writer vmport run uses for --state, in a loop of large saves.
  const script = `
    import { prepareDurableWrites, writeDurableFile } from ${JSON.stringify(join(ROOT, "src/host/state-file.ts"))};
    await prepareDurableWrites();
    const big = "v".repeat(300000);
    process.stdout.write("ready\\n");
    for (let i = 0; ; i++) writeDurableFile(${JSON.stringify(target)}, JSON.stringify({ i, big }));
  `;
  for (let run = 0; run < 50; run++) {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((r) => child.stdout.once("data", () => r()));
    await new Promise((r) => setTimeout(r, 20 + ((run * 37) % 200)));
    child.kill("SIGKILL");
    await new Promise((r) => child.on("exit", r));
    const names = readdirSync(d);
    assert.deepEqual(
      names.filter((n) => n !== "vm.json"),
      [],
      `run ${run}: debris ${names.join(", ")}`,
    );
    if (existsSync(target)) JSON.parse(readFileSync(target, "utf8"));
  }
  assert.ok(existsSync(target), "some saves completed");
});

test("host-named files must be regular files of bounded size; a FIFO is refused without blocking", () => {
  const d = dir();
  assert.throws(
    () => readHostFile("/dev/zero", "--profile", HOST_FILE_LIMITS.profile),
    /--profile \/dev\/zero: not a regular file \(a character device\)/,
  );
  assert.throws(() => readHostFile(d, "--profile", 10), /a directory/);
  const fifo = join(d, "fifo");
  assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
  assert.throws(() => readHostFile(fifo, "--guestinfo file", 10), /not a regular file \(a FIFO\)/);
  assert.throws(() => readStateFile(fifo), /not a regular file \(a FIFO\)/);
  const big = join(d, "big");
  writeFileSync(big, "x".repeat(11));
  assert.throws(() => readHostFile(big, "--guestinfo file", 10), /11 bytes, more than the limit of 10/);
  assert.equal(readHostFile(big, "x", 11).length, 11);
  assert.equal(readStateFile(join(d, "missing.json")), null);
});

test("checkWritableTarget: the directory must exist and be writable; an existing target must be a regular file", () => {
  const d = dir();
  assert.throws(
    () => checkWritableTarget("/no/such/dir/x.json", "--state"),
    /--state \/no\/such\/dir\/x\.json: directory \/no\/such\/dir: ENOENT/,
  );
  writeFileSync(join(d, "file"), "");
  assert.throws(() => checkWritableTarget(join(d, "file", "x.json"), "--state"), /is not a directory/);
  assert.throws(() => checkWritableTarget(d, "--state"), /exists and is a directory/);
  checkWritableTarget(join(d, "new.json"), "--state");
  const fifo = join(d, "f");
  spawnSync("mkfifo", [fifo]);
  assert.throws(() => checkWritableTarget(fifo, "--state"), /a FIFO/);
  checkWritableTarget(fifo, "--trace", { regularOnly: false });
});
