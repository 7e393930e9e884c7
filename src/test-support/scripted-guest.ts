/**
 * The scripted guest of the `vmport/host` tests (`src/host/testdata/host-guest.c`): build it, and talk to it line
 * by line through a session's piped stdin/stdout (one command in, one or more result lines out).
 */
import type { Readable, Writable } from "node:stream";
import { buildC, needs, ptraceUsable, runs } from "./system.js";

/** Skip reason for tests that need gcc and ptrace, or false. */
export const scriptedSkip: string | false = needs("gcc", "gcc", () => runs("gcc")) || (ptraceUsable() ? false : "needs Linux on x86-64");

let built: string | null = null;
/** Path of the built scripted guest (built once per test process). */
export function scriptedGuest(): string {
  built ??= buildC("src/host/testdata/host-guest.c", "host-guest");
  if (built === null) throw new Error("gcc could not build host-guest.c");
  return built;
}

/** Line-by-line conversation with a program's stdin/stdout. */
export class Script {
  private buf = "";
  private readonly lines: string[] = [];
  private waiter: (() => void) | null = null;
  /** Everything read so far. */
  all = "";

  constructor(
    private readonly stdin: Writable,
    stdout: Readable,
  ) {
    stdout.setEncoding("utf8");
    stdout.on("data", (d: string) => {
      this.all += d;
      this.buf += d;
      for (let nl = this.buf.indexOf("\n"); nl >= 0; nl = this.buf.indexOf("\n")) {
        this.lines.push(this.buf.slice(0, nl));
        this.buf = this.buf.slice(nl + 1);
      }
      this.waiter?.();
    });
    stdout.on("end", () => this.waiter?.());
  }

  /** Send one command line. */
  send(line: string): void {
    this.stdin.write(line + "\n");
  }

  /** The next line (waiting up to `timeoutMs`); rejects on timeout with what was read. */
  async next(timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line from the guest within ${timeoutMs} ms; output so far: ${JSON.stringify(this.all)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = null;
    }
    return this.lines.shift()!;
  }

  /** Send `line` and return the next output line. */
  async ask(line: string, timeoutMs?: number): Promise<string> {
    this.send(line);
    return this.next(timeoutMs);
  }
}
