/**
 * `vmport v86 --multiboot FILE`: boot a Multiboot kernel in v86 with vmport attached, copy COM1 to stdout, and
 * exit with the guest's isa-debug-exit status (a write of V to port 0xF4 exits with (V << 1) | 1, as QEMU's
 * `-device isa-debug-exit,iobase=0xf4` does), so one test kernel runs unchanged under both.
 * Needs the npm package `v86` and a BIOS (Debian: `apt-get install -y seabios`).
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { VmportError } from "../core/errors.js";
import { resolveProfile } from "../devices/profile.js";
import { VirtualMachine } from "../vm/virtual-machine.js";
import { SystemClock } from "../host/system-clock.js";
import { attachToV86, type V86Internals } from "../v86/attach.js";
import { usage } from "./errors.js";
import { HOST_FILE_LIMITS, readHostFile } from "../host/state-file.js";

/** Options of `vmport v86`. */
export interface V86Options {
  /** Path of the Multiboot kernel to boot. */
  multiboot: string;
  /** Path of the BIOS image (default Debian's SeaBIOS). */
  bios: string;
  /** Path of the VM profile (JSON). */
  profile?: string;
  /** `KEY=VALUE` guestinfo settings, in order. */
  guestinfo: string[];
  /** Give up after this many seconds (1–3600; exit 124). */
  timeout: number;
  /** Use v86's own VMware device instead of vmport (for comparisons). */
  builtin: boolean;
}

function ab(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** Boot and run; resolves with the exit status. */
export async function runV86(o: V86Options): Promise<number> {
  if (!existsSync(o.multiboot)) usage(`--multiboot ${o.multiboot}: no such file`);
  if (!existsSync(o.bios)) usage(`--bios ${o.bios}: no such file (Debian: apt-get install -y seabios)`);
  let profile: object = {};
  if (o.profile !== undefined) {
    const text = readHostFile(o.profile, "--profile", HOST_FILE_LIMITS.profile).toString("utf8");
    try {
      profile = JSON.parse(text) as object;
    } catch (e) {
      usage(`--profile ${o.profile}: not JSON (${(e as Error).message})`);
    }
  }
  resolveProfile(profile);
  let V86: new (opts: object) => V86Internals & { stop(): void; add_listener(e: string, f: (x: never) => void): void };
  let wasm: string;
  try {
    const require = createRequire(import.meta.url);
    wasm = join(dirname(require.resolve("v86")), "v86.wasm");
    ({ V86 } = (await import("v86")) as unknown as { V86: typeof V86 });
  } catch (e) {
    throw new VmportError("VMPORT_BAD_ARGUMENT", `v86: the npm package v86 is not available (${(e as Error).message})`);
  }
  const vm = new VirtualMachine({ profile, clock: new SystemClock() });
  for (const spec of o.guestinfo) {
    const eq = spec.indexOf("=");
    if (eq <= 0) usage(`--guestinfo "${spec}": expected KEY=VALUE`);
    vm.messaging.guestinfo.set(spec.slice(0, eq), spec.slice(eq + 1));
  }
  const emulator = new V86({
    wasm_path: wasm,
    bios: { buffer: ab(readFileSync(o.bios)) },
    multiboot: { buffer: ab(readFileSync(o.multiboot)) },
    memory_size: 64 * 1024 * 1024,
    autostart: true,
    disable_keyboard: true,
    disable_mouse: true,
  });
  return new Promise<number>((resolve) => {
    const timer = setTimeout(() => {
      emulator.stop();
      process.stderr.write(`vmport: v86: no isa-debug-exit within ${o.timeout} s\n`);
      resolve(124);
    }, o.timeout * 1000);
    emulator.add_listener("serial0-output-byte", ((b: number) => process.stdout.write(String.fromCharCode(b))) as (x: never) => void);
    emulator.add_listener("emulator-loaded", (() => {
      if (!o.builtin) attachToV86(emulator, vm);
      const exit = (v: number) => {
        clearTimeout(timer);
        emulator.stop();
        resolve(((v << 1) | 1) & 0xff);
      };
      emulator.v86.cpu.io.register_write(0xf4, { name: "isa-debug-exit" }, exit, exit, exit);
    }) as (x: never) => void);
  });
}
