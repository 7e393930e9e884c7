/** Port bus: ranges, overlap errors, offsets, empty ports and width misses. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PortBus, newPortAccess } from "./port-bus.js";
import { Width, type PortAccess, type PortDevice } from "./port-device.js";
import { isVmportError } from "../core/errors.js";

class Recorder implements PortDevice {
  readonly label: string;
  readonly widths: number;
  seen: [string, number, number, number][] = [];
  constructor(label: string, widths: number = Width.ALL) {
    this.label = label;
    this.widths = widths;
  }
  read(a: PortAccess): number {
    this.seen.push(["r", a.offset, a.size, 0]);
    return 0x12345678 + a.offset;
  }
  write(a: PortAccess, v: number): void {
    this.seen.push(["w", a.offset, a.size, v]);
  }
}

function acc(port: number, size: number): PortAccess {
  const a = newPortAccess();
  a.port = port;
  a.size = size;
  return a;
}

test("every port of a range reaches the device with its offset; neighbours stay empty", () => {
  const bus = new PortBus();
  const d = new Recorder("uart");
  bus.register(0x3f8, 8, d);
  for (let p = 0x3f8; p < 0x400; p++) assert.equal(bus.read(acc(p, 1)), (0x78 + (p - 0x3f8)) & 0xff);
  assert.deepEqual(
    d.seen.map((s) => s[1]),
    [0, 1, 2, 3, 4, 5, 6, 7],
  );
  assert.equal(bus.read(acc(0x3f7, 1)), 0xff);
  assert.equal(bus.read(acc(0x400, 2)), 0xffff);
  assert.equal(bus.read(acc(0x400, 4)), 0xffffffff);
  assert.equal(bus.counters.unclaimedReads, 3);
});

test("reads are masked to the access size and writes arrive masked", () => {
  const bus = new PortBus();
  const d = new Recorder("dev");
  bus.register(0x80, 1, d);
  assert.equal(bus.read(acc(0x80, 2)), 0x5678);
  bus.write(acc(0x80, 1), 0x1ff);
  assert.deepEqual(d.seen.at(-1), ["w", 0, 1, 0xff]);
});

test("overlapping and out-of-space ranges are host errors with a code and the numbers", () => {
  const bus = new PortBus();
  bus.register(0x60, 5, new Recorder("kbd"));
  for (const [base, len] of [
    [0x64, 1],
    [0x5f, 2],
    [0x50, 0x20],
  ]) {
    assert.throws(
      () => bus.register(base!, len!, new Recorder("x")),
      (e: unknown) => isVmportError(e) && e.code === "VMPORT_OVERLAPPING_RANGE" && /0x60\+5/.test(e.message),
    );
  }
  assert.throws(
    () => bus.register(0xffff, 2, new Recorder("x")),
    (e: unknown) => isVmportError(e) && e.code === "VMPORT_INVALID_RANGE",
  );
  assert.throws(
    () => bus.register(0x10, 0, new Recorder("x")),
    (e: unknown) => isVmportError(e) && e.code === "VMPORT_INVALID_RANGE",
  );
  assert.throws(
    () => bus.register(0x10, 1, new Recorder("x", 0)),
    (e: unknown) => isVmportError(e) && e.code === "VMPORT_INVALID_ACCESS_WIDTH",
  );
  bus.register(0x65, 1, new Recorder("adjacent")); // touching is not overlapping
  assert.deepEqual(
    bus.list().map((r) => r.base),
    [0x60, 0x65],
  );
});

test("a width the device does not decode is answered as an empty port and counted", () => {
  const bus = new PortBus();
  const d = new Recorder("byte-only", Width.BYTE);
  bus.register(0x70, 2, d);
  assert.equal(bus.read(acc(0x70, 4)), 0xffffffff);
  bus.write(acc(0x70, 2), 0x1234);
  assert.equal(d.seen.length, 0);
  assert.equal(bus.counters.widthMisses, 2);
  assert.equal(bus.read(acc(0x71, 1)), 0x79);
});

test("string transfers fall back to one access per element, little-endian", () => {
  const bus = new PortBus();
  const d = new Recorder("dev");
  bus.register(0x100, 1, d);
  const dst = new Uint8Array(4);
  bus.readBlock(acc(0x100, 2), dst);
  assert.deepEqual([...dst], [0x78, 0x56, 0x78, 0x56]);
  bus.writeBlock(acc(0x100, 2), Uint8Array.of(0x01, 0x02, 0x03, 0x04));
  assert.deepEqual(
    d.seen.slice(-2).map((s) => s[3]),
    [0x0201, 0x0403],
  );
  const empty = new Uint8Array(3);
  bus.readBlock(acc(0x200, 1), empty);
  assert.deepEqual([...empty], [0xff, 0xff, 0xff]);
});

test("unregister frees the range", () => {
  const bus = new PortBus();
  bus.register(0x10, 4, new Recorder("a"));
  assert.equal(bus.unregister(0x10), true);
  assert.equal(bus.unregister(0x10), false);
  assert.equal(bus.read(acc(0x11, 1)), 0xff);
  bus.register(0x10, 4, new Recorder("b"));
});
