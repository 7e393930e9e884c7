/**
 * Peer test suites: other projects' own tests and example programs for the guest side of the backdoor, exactly as
 * Debian packages them, run unmodified under `vmport run` — and outside it, to show that it is the simulated host
 * that makes them pass.
 *
 * - Go `github.com/vmware/vmw-guestinfo` (written by VMware against the real VMX; Debian
 *   `golang-github-vmware-vmw-guestinfo-dev`): every package with tests is built with Debian's Go in GOPATH mode
 *   (`go test -c`, sources read from /usr/share/gocode, output and build cache in a fresh temp dir) and run with
 *   `-test.v` and `TEST_TOOLBOX=1`. `message` (RPCI over LB and HB; the TCLO loop until a command equals `"reset"`)
 *   needs the host and skips without one; `bdoor` and `vmcheck` are host-independent unit tests (register
 *   marshalling, a mocked platform) and pass either way. Its `examples` program sets and reads guestinfo.
 * - C `imvirt-helper` (`/usr/lib/imvirt/vmware`): GETVERSION in a forked child that a SIGSEGV handler guards;
 *   prints the product type from ECX and exits 1 when it found VMware, prints nothing and exits 0 otherwise.
 *
 * Source of truth: the peers' own tests and programs; `docs/tclo-framing.md` for why TestReset depends on the TCLO
 * framing. Does not: modify, patch or vendor any peer source, or cache a build between runs.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, needs, ptraceUsable, runs, vmport } from "../../test-support/system.js";
import { countGoTests, parseGoTestVerbose, type GoTestCounts, type GoTestReport } from "../../test-support/go-test-output.js";

const GOCODE = "/usr/share/gocode";
const GUESTINFO = "github.com/vmware/vmw-guestinfo";
const IMVIRT_VMWARE = "/usr/lib/imvirt/vmware";
/** A hang guard for the Go binaries (TestReset loops until it sees "reset"), not a speed check. */
const GO_TEST_TIMEOUT = "60s";

const linux = ptraceUsable() ? false : "needs Linux on x86-64";
const goSkip =
  linux ||
  needs(
    "Go and vmw-guestinfo",
    "golang-go golang-github-vmware-vmw-guestinfo-dev",
    () => runs("go", ["version"]) && existsSync(join(GOCODE, "src", GUESTINFO, "message", "message_test.go")),
  );
const imvirtSkip = linux || needs("imvirt-helper", "imvirt-helper", () => existsSync(IMVIRT_VMWARE));

const dir = mkdtempSync(join(tmpdir(), "vmport-peers-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

/** GOPATH mode: no module download, sources from Debian's /usr/share/gocode, everything written under `dir`. */
function goEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GO111MODULE: "off",
    GOPATH: `${join(dir, "gopath")}:${GOCODE}`,
    GOCACHE: join(dir, "gocache"),
    GOFLAGS: "",
    GOENV: "off", // no user go.env (GOFLAGS, GOPROXY) leaks in
    GOTOOLCHAIN: "local", // Go ≥ 1.21 never fetches another toolchain
    CGO_ENABLED: "0", // the library is pure Go + assembly; no C toolchain needed
  };
}

function go(args: string[]): string {
  const r = spawnSync("go", args, { env: goEnv(), encoding: "utf8", timeout: 300_000 });
  assert.equal(r.status, 0, `go ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

interface Built {
  /** Import path → test binary, for every package with tests. */
  tests: Map<string, string>;
  example: string;
}
let built: Built | null = null;

/** Build once per run: `go test -c` of each package that has tests, and the example program. */
function build(): Built {
  if (built) return built;
  const listed = go(["list", "-f", "{{if .TestGoFiles}}{{.ImportPath}}{{end}}", `${GUESTINFO}/...`]);
  const pkgs = listed.split("\n").filter((l) => l.trim() !== "");
  const tests = new Map<string, string>();
  for (const pkg of pkgs) {
    const out = join(dir, `${pkg.split("/").pop()!}.test`);
    go(["test", "-c", "-o", out, pkg]);
    tests.set(pkg, out);
  }
  const example = join(dir, "guestinfo-example");
  go(["build", "-o", example, `${GUESTINFO}/examples`]);
  built = { tests, example };
  return built;
}

/** The last `n` bytes of a file, as text. */
function tail(path: string, n: number): string {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(Math.min(n, size));
    readSync(fd, buf, 0, buf.length, size - buf.length);
    return buf.toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/**
 * Run a Go test binary under `vmport run` (TEST_TOOLBOX=1 through `env`, as a user would). The tests switch on the
 * library's debug log (one stderr line per backdoor poll: megabytes when TestReset spins), so stderr goes to a file
 * and only its last 64 KiB are kept.
 */
function underVmport(bin: string, goArgs: string[], runArgs: string[] = []) {
  const errFile = join(dir, "stderr.txt");
  const fd = openSync(errFile, "w");
  let r: SpawnSyncReturns<string>;
  try {
    r = spawnSync(
      process.execPath,
      ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "run", ...runArgs, "--", "env", "TEST_TOOLBOX=1", bin, "-test.v", ...goArgs],
      { stdio: ["ignore", "pipe", fd], encoding: "utf8", timeout: 120_000, maxBuffer: 16 << 20 },
    );
  } finally {
    closeSync(fd);
  }
  const stderr = tail(errFile, 64 << 10);
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr, report: parseGoTestVerbose(r.stdout ?? "") };
}

function outside(bin: string) {
  const r = spawnSync(bin, ["-test.v", `-test.timeout=${GO_TEST_TIMEOUT}`], {
    env: { ...process.env, TEST_TOOLBOX: "1" },
    encoding: "utf8",
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, report: parseGoTestVerbose(r.stdout ?? "") };
}

function sum(a: GoTestCounts, b: GoTestCounts): GoTestCounts {
  return {
    run: a.run + b.run,
    passed: a.passed + b.passed,
    failed: a.failed + b.failed,
    skipped: a.skipped + b.skipped,
    subtests: a.subtests + b.subtests,
    subtestsPassed: a.subtestsPassed + b.subtestsPassed,
  };
}
const ZERO: GoTestCounts = { run: 0, passed: 0, failed: 0, skipped: 0, subtests: 0, subtestsPassed: 0 };
const names = (r: GoTestReport, outcome: string): string[] => r.results.filter((x) => x.outcome === outcome).map((x) => x.name);

/** Print a count line in the test report (the spec reporter shows it under the test, in CI logs too). */
function report(t: TestContext, line: string): void {
  t.diagnostic(`peer tests: ${line}`);
}

test("vmw-guestinfo's own Go tests, built unmodified, all pass under vmport run with TEST_TOOLBOX=1; none skipped", {
  skip: goSkip,
}, (t) => {
  const { tests } = build();
  assert.ok(tests.has(`${GUESTINFO}/message`), `packages with tests: ${[...tests.keys()].join(", ")}`);
  let total = ZERO;
  for (const [pkg, bin] of tests) {
    const r = underVmport(bin, [`-test.timeout=${GO_TEST_TIMEOUT}`]);
    const c = countGoTests(r.report);
    assert.equal(r.status, 0, `${pkg}: exit ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr.slice(-2000)}`);
    assert.equal(r.report.final, "PASS", pkg);
    assert.deepEqual(r.report.unfinished, [], pkg);
    assert.ok(c.run > 0, `${pkg}: no test ran`);
    assert.deepEqual(names(r.report, "SKIP"), [], `${pkg}: skipped under vmport run`);
    assert.deepEqual(names(r.report, "FAIL"), [], pkg);
    assert.doesNotMatch(r.stdout, /Not in a virtual world/, pkg);
    report(
      t,
      `vmw-guestinfo ${pkg.slice(GUESTINFO.length + 1)}: ${c.run} run, ${c.passed} passed, ${c.skipped} skipped, ${c.failed} failed` +
        (c.subtests > 0 ? ` (+${c.subtestsPassed}/${c.subtests} subtests passed)` : ""),
    );
    if (pkg.endsWith("/message")) {
      // The two that talk to the host: RPCI "0 No value found" over LB and HB; the TCLO loop answering "reset".
      assert.deepEqual(names(r.report, "PASS").sort(), ["TestOpenClose", "TestReset"]);
    }
    total = sum(total, c);
  }
  report(
    t,
    `vmw-guestinfo under vmport run: ${total.run} run, ${total.passed} passed, ${total.skipped} skipped, ${total.failed} failed` +
      ` (+${total.subtestsPassed}/${total.subtests} subtests passed)`,
  );
  assert.equal(total.passed, total.run);
});

test('outside vmport run the same binaries find no VMware: message\'s tests skip ("Not in a virtual world"); bdoor and vmcheck need no host', {
  skip: goSkip,
}, (t) => {
  const { tests } = build();
  let hostDependent = 0;
  for (const [pkg, bin] of tests) {
    const r = outside(bin);
    assert.equal(r.status, 0, `${pkg}: ${r.stderr}`);
    const skipped = r.report.results.filter((x) => x.outcome === "SKIP");
    if (pkg.endsWith("/message")) {
      assert.deepEqual(
        skipped.map((x) => [x.name, x.messages]),
        [
          ["TestOpenClose", ["Not in a virtual world"]],
          ["TestReset", ["Not in a virtual world"]],
        ],
      );
      hostDependent += skipped.length;
    } else {
      // Host-independent: they pass here too, so the README counts them apart.
      assert.deepEqual(skipped, [], pkg);
      assert.equal(countGoTests(r.report).failed, 0, pkg);
    }
  }
  report(t, `vmw-guestinfo outside vmport run: ${hostDependent} host-dependent tests skipped ("Not in a virtual world")`);
});

test('TestReset depends on the framing: with profile tcloTrailingNul it never sees "reset" and hits -test.timeout', {
  skip: goSkip,
}, () => {
  const bin = build().tests.get(`${GUESTINFO}/message`)!;
  const profile = join(dir, "trailing-nul.json");
  writeFileSync(profile, JSON.stringify({ tcloTrailingNul: true }));
  const r = underVmport(bin, ["-test.run=^TestReset$", "-test.timeout=3s"], ["--profile", profile]);
  assert.equal(r.status, 2, `exit ${r.status ?? r.signal}`); // the Go test binary's status after a panic
  assert.deepEqual(r.report.results, []);
  assert.deepEqual(r.report.unfinished, ["TestReset"]);
  assert.match(r.stderr, /panic: test timed out after 3s/);
});

test("vmw-guestinfo's example program: -set then -get through --state; outside vmport run it refuses", { skip: goSkip }, (t) => {
  const { example } = build();
  const state = join(dir, "example-state.json");
  const set = vmport(["run", "--state", state, "--", example, "-set", "fromgo", "abc"]);
  assert.equal(set.status, 0, set.stderr);
  const get = vmport(["run", "--state", state, "--", example, "-get", "fromgo"]);
  assert.equal(get.status, 0, get.stderr);
  assert.equal(get.stdout, "abc\n");
  const seeded = vmport(["run", "--guestinfo", "metadata=i-1", "--", example, "-get", "metadata"]);
  assert.equal(seeded.stdout, "i-1\n");
  const no = spawnSync(example, ["-get", "metadata"], { encoding: "utf8" });
  assert.equal(no.status, 1);
  assert.match(no.stderr, /not in a virtual world/);
  report(t, "vmw-guestinfo examples: 3 runs under vmport run as expected; refuses outside");
});

test("imvirt-helper's vmware probe (C): the product type from GETVERSION; nothing with the backdoor off or outside vmport run", {
  skip: imvirtSkip,
}, (t) => {
  const profile = (p: object): string => {
    const f = join(dir, `imvirt-${Object.values(p).join("-")}.json`);
    writeFileSync(f, JSON.stringify(p));
    return f;
  };
  const cases: [object, string, number][] = [
    [{}, "ESX Server\n", 1],
    [{ vmxType: 1 }, "Express\n", 1],
    [{ vmxType: 3 }, "GSX Server\n", 1],
    [{ vmxType: 4 }, "Workstation\n", 1],
    [{ backdoor: false }, "", 0],
  ];
  for (const [p, stdout, status] of cases) {
    const r = vmport(["run", "--profile", profile(p), "--", IMVIRT_VMWARE]);
    assert.equal(r.stdout, stdout, JSON.stringify(p));
    assert.equal(r.status, status, `${JSON.stringify(p)}: ${r.stderr}`);
  }
  const no = spawnSync(IMVIRT_VMWARE, [], { encoding: "utf8" });
  assert.equal(no.stdout, "");
  assert.equal(no.status, 0);
  report(t, `imvirt-helper vmware: ${cases.length} runs under vmport run as expected; nothing outside`);
});
