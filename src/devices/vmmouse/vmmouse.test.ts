/**
 * vmmouse through the #GP intercept, driven like the Linux driver and Xorg's vmmouse_detect: handshake, absolute
 * and relative packets, coalescing under a slow poll (no backlog, last position right), buttons and wheel never
 * merged, queue bound, DATA errors, DISABLE.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtualClock } from "../../core/clock.js";
import { VirtualMachine } from "../../vm/virtual-machine.js";
import { Guest, LB, MAGIC } from "../../test-support/backdoor-client.js";
import { VMMOUSE_QUEUE_WORDS, VMMOUSE_RELATIVE_PACKET, VMMOUSE_VERSION_ID, VmmouseButton, VmmouseCommand } from "./vmmouse.js";

function setup() {
  const vm = new VirtualMachine({ clock: new VirtualClock() });
  const g = new Guest(vm);
  const cmd = (n: number, ebx = 0) => g.call("in", { ecx: n, ebx, edx: LB });
  const status = () => cmd(40).eax;
  const data = (n: number) => cmd(39, n);
  return { vm, g, cmd, status, data };
}

/** The Linux driver's enable sequence (`vmmouse_enable`, `docs/protocol.md` §8). */
function linuxEnable(s: ReturnType<typeof setup>): void {
  const v = s.cmd(10, ~MAGIC >>> 0); // GETVERSION
  assert.equal(v.ebx, MAGIC);
  s.cmd(41, VmmouseCommand.READ_ID);
  assert.notEqual(s.status() & 0xffff, 0);
  assert.equal(s.data(1).eax, VMMOUSE_VERSION_ID);
  s.cmd(86, 1); // RESTRICT_CPL0
  s.cmd(41, VmmouseCommand.REQUEST_ABSOLUTE);
}

test("Linux handshake, an absolute packet with buttons and wheel, and disable → STATUS 0xFFFF0000", () => {
  const s = setup();
  assert.equal(s.status(), 0xffff0000, "disabled after reset");
  linuxEnable(s);
  assert.equal(s.status(), 0, "enabled, queue empty");
  s.vm.mouse.event(0x8000, 0x4000, VmmouseButton.LEFT, -1);
  const st = s.status();
  assert.equal(st >>> 16, 0);
  assert.equal(st & 0xffff, 4);
  const p = s.data(4);
  assert.deepEqual([p.eax, p.ebx, p.ecx, p.edx], [VmmouseButton.LEFT, 0x8000, 0x4000, 0xffffffff]);
  s.vm.mouse.event(1, 2);
  s.cmd(41, VmmouseCommand.DISABLE);
  assert.equal(s.status(), 0xffff0000);
  assert.equal(s.vm.mouse.restrict, 1);
});

test("Xorg vmmouse_detect: the same handshake with RESTRICT_IOPL, then disable", () => {
  const s = setup();
  s.cmd(41, VmmouseCommand.READ_ID);
  assert.equal(s.data(1).eax, VMMOUSE_VERSION_ID);
  s.cmd(86, 2);
  s.cmd(41, VmmouseCommand.DISABLE);
  assert.equal(s.status(), 0xffff0000);
});

test("1000 moves while the guest polls slowly: no backlog, the last position is the one delivered", () => {
  const s = setup();
  linuxEnable(s);
  for (let i = 0; i < 1000; i++) s.vm.mouse.event(i * 50, 65535 - i * 50);
  assert.equal(s.status() & 0xffff, 4, "one packet waiting, not 1000");
  const p = s.data(4);
  assert.deepEqual([p.ebx, p.ecx], [999 * 50, 65535 - 999 * 50]);
  assert.equal(s.vm.mouse.counters.coalesced, 999);
  assert.equal(s.status() & 0xffff, 0);
});

test("button changes and wheel events are never merged; a move after a read starts a new packet", () => {
  const s = setup();
  linuxEnable(s);
  s.vm.mouse.event(10, 10);
  s.vm.mouse.event(20, 20, VmmouseButton.LEFT); // press: new packet
  s.vm.mouse.event(30, 30, VmmouseButton.LEFT); // drag: merges into the press? no — the press is not a plain move of the same buttons
  s.vm.mouse.event(30, 30, VmmouseButton.LEFT, 1); // wheel: its own packet
  s.vm.mouse.event(40, 40); // release: new packet
  const packets: number[][] = [];
  while (s.status() & 0xffff) {
    const p = s.data(4);
    packets.push([p.eax, p.ebx, p.ecx, p.edx]);
  }
  assert.deepEqual(packets, [
    [0, 10, 10, 0],
    [VmmouseButton.LEFT, 30, 30, 0],
    [VmmouseButton.LEFT, 30, 30, 1],
    [0, 40, 40, 0],
  ]);
});

test("relative mode: packets carry the flag, merged moves add their deltas", () => {
  const s = setup();
  linuxEnable(s);
  s.cmd(41, VmmouseCommand.REQUEST_RELATIVE);
  s.vm.mouse.event(5, -3);
  s.vm.mouse.event(2, 1);
  const p = s.data(4);
  assert.equal(p.eax, VMMOUSE_RELATIVE_PACKET);
  assert.deepEqual([p.ebx | 0, p.ecx | 0], [7, -2]);
});

test("queue bound: a full queue drops new packets and counts them", () => {
  const s = setup();
  linuxEnable(s);
  for (let i = 0; i < VMMOUSE_QUEUE_WORDS; i++) s.vm.mouse.event(i, i, 0, 1); // wheel packets: never merged
  assert.equal(s.status() & 0xffff, VMMOUSE_QUEUE_WORDS);
  assert.equal(s.vm.mouse.counters.dropped, VMMOUSE_QUEUE_WORDS - VMMOUSE_QUEUE_WORDS / 4);
});

test("DATA misuse (0, more than 6, more than queued) is an error: status 0xFFFF, device disabled", () => {
  for (const n of [0, 7, 5]) {
    const s = setup();
    linuxEnable(s);
    s.vm.mouse.event(1, 1);
    const before = s.g.call("in", { ecx: 39, ebx: n, edx: LB, esi: 0x1234 });
    assert.equal(before.esi, 0x1234, `DATA(${n}) wrote nothing`);
    assert.equal(s.status() >>> 16, 0xffff, `DATA(${n})`);
    s.vm.mouse.event(2, 2);
    assert.equal(s.vm.mouse.counters.ignored, 1, "events are ignored while disabled");
  }
});

test("DATA of 6 words fills EAX…EDI; REQUEST_* before READ_ID changes nothing; unknown sub-command is unknown", () => {
  const s = setup();
  s.cmd(41, VmmouseCommand.REQUEST_RELATIVE);
  linuxEnable(s);
  assert.equal(s.vm.mouse.absolute, true);
  s.vm.mouse.event(1, 2, VmmouseButton.RIGHT);
  s.vm.mouse.event(3, 4);
  const r = s.data(6);
  assert.deepEqual([r.eax, r.ebx, r.ecx, r.edx, r.esi, r.edi], [VmmouseButton.RIGHT, 1, 2, 0, 0, 3]);
  assert.equal(s.cmd(41, 0x12345678).eax, 0xffffffff);
});
