/**
 * `vmport compare OURS THEIRS`: line up two COM1 outputs of the backdoor-table test kernel (vmport in v86, QEMU's
 * vmport) field by field and report every difference not on the documented allow-list (`src/v86/compare.ts`).
 *
 * Exit 0: no unexplained difference; 1: some; 2 (one `vmport:` line): an input cannot be read, is larger than
 * {@link COMPARE_MAX_BYTES}, or holds no table at all — an empty file, `/dev/null` or a log without a single
 * `NAME HEX8 …` row would otherwise "agree" with anything.
 * Does not: run the kernel (`vmport v86` and `qemu-system-i386` do).
 */
import { closeSync, openSync, readSync } from "node:fs";
import { compareOutputs, tableRows } from "../v86/compare.js";
import { usage } from "./errors.js";

/** Largest input read, in bytes (the kernel prints about 2 KiB). */
export const COMPARE_MAX_BYTES = 1024 * 1024;

/** Read `path` as text, at most {@link COMPARE_MAX_BYTES} (a FIFO or a device is read up to the bound). */
function readBounded(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    return usage(`compare: ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const buf = Buffer.alloc(COMPARE_MAX_BYTES + 1);
    let n = 0;
    for (;;) {
      let got: number;
      try {
        got = readSync(fd, buf, n, buf.length - n, null);
      } catch (e) {
        return usage(`compare: ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      if (got === 0) break;
      n += got;
      if (n > COMPARE_MAX_BYTES) usage(`compare: ${path}: larger than ${COMPARE_MAX_BYTES} bytes; not a test-kernel output`);
    }
    return buf.toString("utf8", 0, n);
  } finally {
    closeSync(fd);
  }
}

/** Run `vmport compare`; prints the differences and returns the exit status. */
export function runCompare(ours: string, theirs: string): number {
  const texts = [ours, theirs].map((path) => {
    const text = readBounded(path);
    if (tableRows(text) === 0)
      usage(`compare: ${path}: no backdoor table in it (expected lines "NAME EAX EBX …" in hex, as the test kernel prints)`);
    return text;
  });
  const diff = compareOutputs(texts[0]!, texts[1]!);
  for (const d of diff) process.stdout.write(`${d.call} field ${d.field}: ours ${d.ours} theirs ${d.theirs}\n`);
  process.stdout.write(diff.length === 0 ? "no unexplained differences\n" : `${diff.length} unexplained difference(s)\n`);
  return diff.length === 0 ? 0 : 1;
}
