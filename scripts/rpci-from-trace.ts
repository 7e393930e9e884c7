/**
 * Print the RPCI requests a guest sent over the low-bandwidth channel, from a `vmport run --trace` file, as
 * TypeScript byte literals for test fixtures.
 *
 * Usage: `node --import tsx scripts/rpci-from-trace.ts TRACE.jsonl [PREFIX]` — only requests starting with PREFIX
 * (e.g. `"SetGuestInfo  10"`). Capture with `--profile` `{"highBandwidth": false}`: HB transfers carry their bytes
 * in guest memory, which a trace does not record.
 */
import { readFileSync } from "node:fs";
import { messagesFromTrace } from "../src/vm/trace-messages.js";
import type { TraceRecord } from "../src/vm/trace.js";

const [path, prefix = ""] = process.argv.slice(2);
if (path === undefined) {
  process.stderr.write("usage: rpci-from-trace.ts TRACE.jsonl [PREFIX]\n");
  process.exit(2);
}
const records = readFileSync(path, "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "")
  .map((l) => JSON.parse(l) as TraceRecord);
const want = new TextEncoder().encode(prefix);
for (const m of messagesFromTrace(records)) {
  if (m.from !== "guest" || m.protocol !== "rpci" || m.bytes.length < want.length || !want.every((b, i) => m.bytes[i] === b)) continue;
  process.stdout.write(`// ${m.bytes.length} bytes on channel ${m.channel}\n`);
  for (let i = 0; i < m.bytes.length; i += 16) {
    const row = [...m.bytes.subarray(i, i + 16)];
    const text = row.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    process.stdout.write(`  ${row.map((b) => `0x${b.toString(16).padStart(2, "0")},`).join(" ")} // ${text}\n`);
  }
}
