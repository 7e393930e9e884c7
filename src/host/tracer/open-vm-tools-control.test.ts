/**
 * Conformance: the real vmtoolsd (Debian's open-vm-tools) under `vmport run --control`, driven over the QMP socket
 * while it runs: `tclo-send ping` is answered OK; `tclo-send "Set_Option broadcastIP 1"` is followed by a
 * GUEST_CHANGED event and `query-guest` shows one of this machine's addresses as the primary IP; a key set with
 * `guestinfo-set` is what `vmware-rpctool` reads in the same run afterwards; SHUTDOWN carries the exit status.
 * Safety: vmtoolsd runs with a private plugin directory holding only libguestInfo.so, an empty common directory and
 * a private config, and receives only `ping` and `Set_Option broadcastIP 1` (plus the automatic reset).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { needs, ptraceUsable, ROOT, runs } from "../../test-support/system.js";
import { QmpClient, type QmpEvent } from "../qmp-client.js";
import type { VmReport } from "../../vm/report.js";

const ovt = needs("open-vm-tools", "open-vm-tools", () => runs("vmware-checkvm", ["-h"]) && existsSync("/usr/bin/vmware-rpctool"));
const skip = ovt || (ptraceUsable() ? false : "needs Linux on x86-64");
const PLUGIN = "/usr/lib/x86_64-linux-gnu/open-vm-tools/plugins/vmsvc/libguestInfo.so";

/** Every address of this machine's interfaces. */
function machineAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((a) => a.address));
}

test("vmtoolsd under vmport run --control: ping, broadcastIP → GUEST_CHANGED and the machine's IP, guestinfo-set read by vmware-rpctool, SHUTDOWN with the status", {
  skip,
  timeout: 120_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "vmport-ovt-ctl-"));
  mkdirSync(join(dir, "plugins"));
  mkdirSync(join(dir, "common"));
  symlinkSync(PLUGIN, join(dir, "plugins", "libguestInfo.so"));
  const conf = join(dir, "tools.conf");
  writeFileSync(conf, "[logging]\nlog = false\n");
  const sock = join(dir, "vm.sock");
  const flag = join(dir, "go");
  // vmtoolsd in the background; once the test creates FLAG, vmware-rpctool reads the key; then exit 3.
  const script = [
    `timeout -s TERM 60 vmtoolsd -n vmsvc -c ${conf} -p ${join(dir, "plugins")} --common-path ${join(dir, "common")} >/dev/null 2>&1 &`,
    `for i in $(seq 1200); do [ -e ${flag} ] && break; sleep 0.05; done`,
    `vmware-rpctool "info-get guestinfo.fromhost"`,
    `kill $!; exit 3`,
  ].join("\n");
  const run = spawn(
    process.execPath,
    ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "run", "--control", sock, "--", "sh", "-c", script],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  run.stdout.on("data", (d: Buffer) => (out += d.toString()));
  run.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const ended = new Promise<number | null>((r) => run.on("exit", (c) => r(c)));
  for (let i = 0; i < 600 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
  const c = await QmpClient.connect(sock);
  const events: QmpEvent[] = [];
  c.onEvent((e) => events.push(e));
  // The tools answer the automatic reset as soon as they run.
  for (let i = 0; i < 400 && !((await c.execute("query-guest")) as VmReport).guest.toolsRunning; i++)
    await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await c.execute("tclo-send", { command: "ping", "timeout-ms": 10_000 }), { ok: true, text: "" });
  const sentAt = events.length;
  assert.deepEqual(await c.execute("tclo-send", { command: "Set_Option broadcastIP 1", "timeout-ms": 10_000 }), { ok: true, text: "" });
  let changed: QmpEvent | undefined;
  for (let i = 0; i < 400 && changed === undefined; i++) {
    changed = events.slice(sentAt).find((e) => e.event === "GUEST_CHANGED" && e.data?.["field"] === "primaryIp");
    if (changed === undefined) await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(changed, `no GUEST_CHANGED primaryIp after broadcastIP; events: ${JSON.stringify(events.map((e) => e.data)).slice(0, 500)}`);
  const ip = changed.data!["value"] as string;
  assert.ok(machineAddresses().includes(ip), `${ip} is not one of ${machineAddresses().join(", ")}`);
  const model = (await c.execute("query-guest")) as VmReport;
  assert.equal(model.guest.primaryIp, ip);
  assert.equal(model.guest.guestinfo["guestinfo.ip"], ip);
  assert.deepEqual(await c.execute("guestinfo-set", { key: "fromhost", value: "set while it runs" }), {});
  writeFileSync(flag, "");
  const status = await ended;
  await c.closed;
  assert.equal(status, 3, err);
  assert.equal(out, "set while it runs\n");
  // (The reset's result may come before this client connected.)
  const tclo = events
    .filter((e) => e.event === "TCLO_RESULT" && e.data?.["command"] !== "reset")
    .map((e) => [e.data?.["command"], e.data?.["outcome"]]);
  assert.deepEqual(tclo, [
    ["ping", "ok"],
    ["Set_Option broadcastIP 1", "ok"],
  ]);
  const last = events.at(-1)!;
  assert.equal(last.event, "SHUTDOWN");
  assert.deepEqual(last.data, { "exit-status": 3, signal: null, "signal-name": null });
  assert.equal(existsSync(sock), false);
});
