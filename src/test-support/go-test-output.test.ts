/**
 * The `-test.v` reader on output as Go 1.19 test binaries print it (fixtures copied from vmw-guestinfo's
 * `message.test` and `vmcheck.test` runs): skips with their reason, subtests, a timeout panic, a failure.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { countGoTests, parseGoTestVerbose } from "./go-test-output.js";

// message.test -test.v outside a VMware VM: both tests skip, the binary still says PASS.
const SKIPPED = [
  "=== RUN   TestOpenClose",
  "    message_test.go:34: Not in a virtual world",
  "--- SKIP: TestOpenClose (0.00s)",
  "=== RUN   TestReset",
  "    message_test.go:79: Not in a virtual world",
  "--- SKIP: TestReset (0.00s)",
  "PASS",
  "",
].join("\n");

// vmcheck.test -test.v: one test with three table-driven subtests.
const SUBTESTS = [
  "=== RUN   TestVirtualWorld",
  "=== RUN   TestVirtualWorld/vmware",
  "=== RUN   TestVirtualWorld/vmware_no_backdoor",
  "=== RUN   TestVirtualWorld/physical",
  "--- PASS: TestVirtualWorld (0.00s)",
  "    --- PASS: TestVirtualWorld/vmware (0.00s)",
  "    --- PASS: TestVirtualWorld/vmware_no_backdoor (0.00s)",
  "    --- PASS: TestVirtualWorld/physical (0.00s)",
  "PASS",
  "",
].join("\n");

test("skips: outcome SKIP with the t.Skip text as a message; final PASS", () => {
  const r = parseGoTestVerbose(SKIPPED);
  assert.deepEqual(r.results, [
    { name: "TestOpenClose", outcome: "SKIP", subtest: false, messages: ["Not in a virtual world"] },
    { name: "TestReset", outcome: "SKIP", subtest: false, messages: ["Not in a virtual world"] },
  ]);
  assert.equal(r.final, "PASS");
  assert.deepEqual(r.unfinished, []);
  assert.deepEqual(countGoTests(r), { run: 2, passed: 0, failed: 0, skipped: 2, subtests: 0, subtestsPassed: 0 });
});

test("subtests are results of their own, counted apart from top-level tests", () => {
  const r = parseGoTestVerbose(SUBTESTS);
  assert.deepEqual(
    r.results.map((x) => [x.name, x.outcome, x.subtest]),
    [
      ["TestVirtualWorld", "PASS", false],
      ["TestVirtualWorld/vmware", "PASS", true],
      ["TestVirtualWorld/vmware_no_backdoor", "PASS", true],
      ["TestVirtualWorld/physical", "PASS", true],
    ],
  );
  assert.deepEqual(countGoTests(r), { run: 1, passed: 1, failed: 0, skipped: 0, subtests: 3, subtestsPassed: 3 });
});

test("a -test.timeout panic leaves the running test unfinished and no final line", () => {
  // stdout of message.test -test.run TestReset -test.timeout 3s when TestReset never sees "reset" (the panic is on stderr).
  const r = parseGoTestVerbose("=== RUN   TestReset\n");
  assert.deepEqual(r.results, []);
  assert.equal(r.final, null);
  assert.deepEqual(r.unfinished, ["TestReset"]);
});

test("failures, the library's own prints and messages of paused/continued tests", () => {
  const out = [
    "=== RUN   TestA",
    "=== PAUSE TestA",
    "=== RUN   TestB",
    "2026/12/01 01:46:11 Opened channel 0", // log.Printf from the library: not a test message
    '    b_test.go:7: expected "0 No value found", got "1 x"',
    "--- FAIL: TestB (0.01s)",
    "=== CONT  TestA",
    "    a_test.go:3: hello",
    "--- PASS: TestA (0.00s)",
    "FAIL",
  ].join("\n");
  const r = parseGoTestVerbose(out);
  assert.deepEqual(r.results, [
    { name: "TestB", outcome: "FAIL", subtest: false, messages: ['expected "0 No value found", got "1 x"'] },
    { name: "TestA", outcome: "PASS", subtest: false, messages: ["hello"] },
  ]);
  assert.equal(r.final, "FAIL");
  assert.deepEqual(countGoTests(r), { run: 2, passed: 1, failed: 1, skipped: 0, subtests: 0, subtestsPassed: 0 });
});
