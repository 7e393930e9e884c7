/**
 * `vmport guest …`: the guest library as a command, compatible with `vmware-rpctool` and `vmware-checkvm` so
 * scripts can switch: `check [-p]`, `info-get KEY`, `info-set KEY VALUE`, `rpc COMMAND`.
 *
 * Exit statuses as the originals: success 0; an RPC answered "0 …" prints the text on stderr and exits 1; not in a
 * VMware VM (or not under `vmport run`): rpc commands exit 255, `check` exits 1, with the originals' messages.
 */
import { VmportError, isVmportError } from "../core/errors.js";
import { lookupOwn } from "../core/own-keys.js";
import * as guest from "../guest/index.js";
import { GuestinfoStore } from "../channels/guestinfo-store.js";

const NOT_VMWARE = "must be run inside a virtual machine on a VMware hypervisor product.";

/** Run a guest command; returns the exit status. */
export function runGuest(cmd: string, args: string[], opts: { lb?: boolean; product?: boolean }): number {
  const o = { hb: !opts.lb };
  if (cmd === "check") {
    const d = guest.detect();
    if (!d.backdoor || d.version !== 6) {
      process.stderr.write(`Error: vmport guest check ${NOT_VMWARE}\n`); // vmware-checkvm: stderr, exit 1
      return 1;
    }
    if (opts.product) {
      process.stdout.write(d.productType === 2 ? "ESX Server\n" : d.productType === 4 ? "Workstation\n" : "Unknown\n");
    } else process.stdout.write(`VMware software version ${d.version} (good)\n`);
    return 0;
  }
  const commands: Record<string, () => string> = {
    "info-get": () => `info-get ${prefixed(args[0])}`,
    "info-set": () => `info-set ${prefixed(args[0])} ${args.slice(1).join(" ")}`,
    rpc: () => args.join(" "),
  };
  const build = lookupOwn(commands, cmd); // "constructor", "toString"… are not commands
  if (build === undefined) throw new VmportError("VMPORT_BAD_ARGUMENT", `guest: unknown command "${cmd}" (check, info-get, info-set, rpc)`);
  if (cmd !== "rpc" && (args[0] === undefined || (cmd === "info-set" && args.length < 2))) {
    throw new VmportError("VMPORT_BAD_ARGUMENT", `guest ${cmd}: missing ${cmd === "info-set" ? "KEY VALUE" : "KEY"}`);
  }
  if (!guest.detect().backdoor) {
    process.stderr.write(`vmport guest ${NOT_VMWARE}\n`);
    return 255;
  }
  try {
    const r = guest.rpc(build(), o);
    if (r.ok) {
      process.stdout.write(r.text + "\n");
      return 0;
    }
    process.stderr.write(r.text + "\n");
    return 1;
  } catch (e) {
    if (isVmportError(e) && e.code === "VMPORT_GUEST_RPC") {
      process.stderr.write("Failed sending message to VMware.\n");
      return 1;
    }
    throw e;
  }
}

function prefixed(k: string | undefined): string {
  return k === undefined ? "" : GuestinfoStore.withPrefix(k);
}

/** The guest half of `vmport demo`: each step prints one line. */
export function runGuestDemo(): number {
  const d = guest.detect();
  process.stdout.write(
    `guest: detect → CPUID says "${d.hypervisor}", backdoor ${d.backdoor ? "answers" : "absent"}: version ${d.version}, product ${d.productType === 2 ? "ESX Server" : d.productType}\n`,
  );
  if (!d.backdoor) return 1;
  guest.guestinfo.set("demo.greeting", "hello from the guest");
  process.stdout.write(`guest: info-set guestinfo.demo.greeting "hello from the guest" → ok\n`);
  process.stdout.write(`guest: info-get guestinfo.demo.greeting → "${guest.guestinfo.get("demo.greeting")}"\n`);
  process.stdout.write(`guest: info-get guestinfo.metadata → ${JSON.stringify(guest.guestinfo.get("metadata"))}\n`);
  guest.log("vmport demo: a log line from the guest");
  process.stdout.write(`guest: log "vmport demo: a log line from the guest" → ok\n`);
  process.stdout.write(`guest: host time (GETTIMEFULL) → ${guest.hostTime().date.toISOString()}\n`);
  return 0;
}
