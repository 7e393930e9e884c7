/**
 * Engine micro-benchmark: ns per GETVERSION backdoor call through
 *  (a) a bare hand-written GETVERSION handler on a register file (the baseline),
 *  (b) the port bus → backdoor device → command registry → handler → register merge,
 *  (c) the full #GP intercept: page-split fetch, decode, port check, dispatch, merge, RIP advance.
 * and, to show where (b) and (c) spend their time, two parts measured alone:
 *  the registered GETVERSION handler called directly with its patch merged by hand, and fetch + decode only.
 * Every variant restores RAX/RCX/RIP before each call, so all three do the same bookkeeping.
 */
import { measure, do_not_optimize } from "mitata";
import { VirtualClock } from "../src/core/clock.js";
import { newPortAccess } from "../src/bus/port-bus.js";
import { CpuMode } from "../src/x86/cpu-mode.js";
import { CpuState } from "../src/x86/cpu-state.js";
import { FlatMemory } from "../src/x86/guest-memory.js";
import { Reg, type RegisterFile } from "../src/x86/registers.js";
import { VirtualMachine } from "../src/vm/virtual-machine.js";
import { Outcome } from "../src/vm/exit-result.js";
import { InstructionFetcher } from "../src/x86/instruction-fetch.js";
import { AddressSpace } from "../src/x86/linear-address.js";
import { DecodedInstruction, decodeInstruction } from "../src/x86/decoder.js";
import { BackdoorFrame, PatchBit, RegisterPatch } from "../src/devices/backdoor/command-registry.js";

const MAGIC = 0x564d5868;
const INNER = 1000;

/** One benchmark figure. */
export interface Figure {
  name: string;
  nsPerCall: number;
}

function reset(r: RegisterFile): void {
  r.setLo(Reg.RAX, MAGIC);
  r.setLo(Reg.RCX, 10);
  r.setLo(Reg.RIP, 0x1000);
}

/** The baseline: what a hand-written, special-cased GETVERSION costs. */
function bareGetVersion(r: RegisterFile): number {
  if (r.lo(Reg.RAX) !== MAGIC || (r.lo(Reg.RCX) & 0xffff) !== 10) return 0xffffffff;
  r.setLo(Reg.RBX, MAGIC);
  r.setLo(Reg.RCX, 2);
  return 6;
}

async function perCall(fn: () => void): Promise<number> {
  const s = await measure(
    () => {
      for (let i = 0; i < INNER; i++) fn();
    },
    { min_cpu_time: 500e6 },
  );
  return s.p50 / INNER;
}

/** Run the three variants; returns their figures, baseline first. */
export async function benchEngine(): Promise<Figure[]> {
  const vm = new VirtualMachine({ clock: new VirtualClock() });
  const ram = new Uint8Array(0x10000);
  ram[0x1000] = 0xed; // in eax,dx
  const mem = new FlatMemory(ram);
  const cpu = new CpuState({ mode: CpuMode.LONG64, cpl: 3 });
  const regs = cpu.regs;
  regs.setLo(Reg.RDX, 0x5658);

  // Sanity: each path really performs GETVERSION.
  reset(regs);
  if (vm.handleGp(cpu, mem).outcome !== Outcome.COMPLETED || regs.lo(Reg.RAX) !== 6 || regs.lo(Reg.RBX) !== MAGIC) {
    throw new Error("intercept path did not run GETVERSION");
  }
  const access = newPortAccess();
  access.port = 0x5658;
  access.size = 4;
  access.regs = regs;
  access.cpl = 3;
  reset(regs);
  if (vm.bus.read(access) !== 6) throw new Error("bus path did not run GETVERSION");

  const a = await perCall(() => {
    reset(regs);
    do_not_optimize(bareGetVersion(regs));
  });
  const b = await perCall(() => {
    reset(regs);
    do_not_optimize(vm.bus.read(access));
  });
  const c = await perCall(() => {
    reset(regs);
    do_not_optimize(vm.handleGp(cpu, mem));
  });
  const handler = vm.backdoor!.registry.get(10)!;
  const frame = new BackdoorFrame();
  frame.regs = regs;
  const patch = new RegisterPatch();
  const h = await perCall(() => {
    reset(regs);
    const p = handler(frame, vm.backdoor!.ctx, patch.clear())!;
    if (p.mask & PatchBit.EBX) regs.setLo(Reg.RBX, p.ebxValue);
    if (p.mask & PatchBit.ECX) regs.setLo(Reg.RCX, p.ecxValue);
    do_not_optimize(p.eaxValue);
  });
  const fetcher = new InstructionFetcher();
  const insn = new DecodedInstruction();
  const fd = await perCall(() => {
    reset(regs);
    fetcher.begin(mem, 0x1000, 0, 0, AddressSpace.CANONICAL48); // linear 0:0x1000, no length hint, 64-bit
    do_not_optimize(decodeInstruction(fetcher, CpuMode.LONG64, insn));
  });
  return [
    { name: "(a) bare GETVERSION handler", nsPerCall: a },
    { name: "(b) port bus + device + registry", nsPerCall: b },
    { name: "(c) full #GP intercept (fetch, decode, dispatch, merge)", nsPerCall: c },
    { name: "part: registered GETVERSION handler + merge", nsPerCall: h },
    { name: "part: fetch (15 bytes) + decode", nsPerCall: fd },
  ];
}
