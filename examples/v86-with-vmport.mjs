// Runnable example: boot a Multiboot kernel in v86 with the vmport engine attached (run `npm run build` first).
//   node examples/v86-with-vmport.mjs KERNEL.bin
// COM1 goes to stdout; the guest's backdoor calls (LB, HB, message channel, vmmouse) are answered by vmport.
import { V86 } from "v86";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { VirtualMachine } from "vmport/vm";
import { attachToV86 } from "vmport/v86";

const require = createRequire(import.meta.url);
const buf = (path) => {
  const b = readFileSync(path);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
};

const vm = new VirtualMachine({ profile: { memSizeMb: 64 } });
vm.messaging.guestinfo.set("foo", "bar");
vm.messaging.reported.on((c) => console.error("host saw:", c.field, c.key ?? "", String(c.value ?? "")));

const emulator = new V86({
  wasm_path: join(dirname(require.resolve("v86")), "v86.wasm"),
  bios: { buffer: buf("/usr/share/seabios/bios.bin") }, // Debian: apt-get install seabios
  multiboot: { buffer: buf(process.argv[2]) },
  memory_size: 64 * 1024 * 1024,
  autostart: true,
});
emulator.add_listener("serial0-output-byte", (b) => process.stdout.write(String.fromCharCode(b)));
emulator.add_listener("emulator-loaded", () => {
  attachToV86(emulator, vm); // claims ports 0x5658/0x5659 in place of v86's own device
  // isa-debug-exit, as QEMU's -device isa-debug-exit,iobase=0xf4
  // (exitCode, not process.exit(): a piped stdout must be flushed first)
  emulator.v86.cpu.io.register_write(0xf4, {}, (v) => {
    emulator.stop();
    process.exitCode = (v << 1) | 1;
  });
});
