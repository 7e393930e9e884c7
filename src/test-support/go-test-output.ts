/**
 * Reads the verbose output of a Go test binary (`X.test -test.v`), so system tests can count and check another
 * project's own tests run under `vmport run`.
 *
 * Format (Go's `testing` package, `-test.v`, Go 1.14 and later): `=== RUN   Name` (also `=== CONT` / `=== PAUSE`),
 * log and skip messages as indented `file.go:N: text` lines while the test runs, then `--- PASS|FAIL|SKIP: Name (Ns)`
 * (indented four spaces per subtest level), and a final `PASS` or `FAIL` line. A panic (e.g. `-test.timeout`) ends
 * the output with no result line for the running test and no final line.
 * Does not: read `go test -json`, or the `ok`/`FAIL pkg` summary that `go test` (not the binary) prints.
 */

/** One test or subtest that reported a result. */
export interface GoTestResult {
  /** Full name, subtests as `Parent/child`. */
  name: string;
  /** The reported result. */
  outcome: "PASS" | "FAIL" | "SKIP";
  /** True for a subtest (name contains `/`). */
  subtest: boolean;
  /** Its `file.go:N: text` lines (t.Log, t.Skip, t.Error messages), text only. */
  messages: string[];
}

/** What a verbose run printed. */
export interface GoTestReport {
  /** Results in the order they were printed. */
  results: GoTestResult[];
  /** The binary's last line: `PASS`, `FAIL`, or null when it never got there (panic, kill). */
  final: "PASS" | "FAIL" | null;
  /** Tests that started (`=== RUN`) but never reported a result (the one running when a panic struck). */
  unfinished: string[];
}

/** Counts over top-level tests (subtests counted apart). */
export interface GoTestCounts {
  /** Top-level tests that reported a result. */
  run: number;
  /** Top-level tests that passed. */
  passed: number;
  /** Top-level tests that failed. */
  failed: number;
  /** Top-level tests that were skipped. */
  skipped: number;
  /** Subtests that reported a result. */
  subtests: number;
  /** Subtests that passed. */
  subtestsPassed: number;
}

const RUN_RE = /^=== (RUN|CONT|PAUSE|NAME)\s+(\S+)/;
const RESULT_RE = /^(\s*)--- (PASS|FAIL|SKIP): (\S+) \([\d.]+s\)/;
const MESSAGE_RE = /^\s+[\w.-]+\.go:\d+: (.*)$/;

/** Parse `-test.v` stdout. Lines that are none of the above (the library's own prints) are ignored. */
export function parseGoTestVerbose(stdout: string): GoTestReport {
  const results: GoTestResult[] = [];
  const messages = new Map<string, string[]>();
  const started: string[] = [];
  let current: string | null = null;
  let final: GoTestReport["final"] = null;
  for (const line of stdout.split("\n")) {
    const run = RUN_RE.exec(line);
    if (run) {
      const name = run[2]!;
      if (run[1] === "RUN") {
        started.push(name);
        messages.set(name, []);
      }
      current = run[1] === "PAUSE" ? null : name;
      continue;
    }
    const res = RESULT_RE.exec(line);
    if (res) {
      const name = res[3]!;
      results.push({
        name,
        outcome: res[2] as GoTestResult["outcome"],
        subtest: name.includes("/"),
        messages: messages.get(name) ?? [],
      });
      if (current === name) current = null;
      continue;
    }
    const msg = MESSAGE_RE.exec(line);
    if (msg && current !== null) {
      messages.get(current)?.push(msg[1]!);
      continue;
    }
    if (line === "PASS" || line === "FAIL") final = line;
  }
  const reported = new Set(results.map((r) => r.name));
  return { results, final, unfinished: started.filter((n) => !reported.has(n)) };
}

/** Count a report's results. */
export function countGoTests(report: GoTestReport): GoTestCounts {
  const top = report.results.filter((r) => !r.subtest);
  const sub = report.results.filter((r) => r.subtest);
  return {
    run: top.length,
    passed: top.filter((r) => r.outcome === "PASS").length,
    failed: top.filter((r) => r.outcome === "FAIL").length,
    skipped: top.filter((r) => r.outcome === "SKIP").length,
    subtests: sub.length,
    subtestsPassed: sub.filter((r) => r.outcome === "PASS").length,
  };
}
