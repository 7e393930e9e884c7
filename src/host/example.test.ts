// Testing guest tools against a simulated VMware host with vmport/host and node:test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { start } from "vmport/host";

// Debian's open-vm-tools; vmtoolsd runs with its guestInfo plugin only, from a private directory.
const plugin = "/usr/lib/x86_64-linux-gnu/open-vm-tools/plugins/vmsvc/libguestInfo.so";
const skip = existsSync(plugin) ? false : "needs: apt-get install -y open-vm-tools";

test("the tools report this machine's IP when asked, and read guestinfo the host sets while they run", { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "tools-test-"));
  mkdirSync(join(dir, "plugins"));
  mkdirSync(join(dir, "common"));
  symlinkSync(plugin, join(dir, "plugins", "libguestInfo.so"));
  writeFileSync(join(dir, "tools.conf"), "[logging]\nlog = false\n");

  // The guest: vmtoolsd in the background; a line on stdin makes vmware-rpctool read guestinfo.role.
  const vm = await start({
    argv: ["sh", "-c", 'vmtoolsd -n vmsvc -c tools.conf -p plugins --common-path common >/dev/null 2>&1 & read go; vmware-rpctool "info-get guestinfo.role"; kill $!'],
    cwd: dir,
  });

  await vm.waitForGuest((m) => m.guest.toolsRunning);
  assert.deepEqual(await vm.tclo("ping"), { ok: true, text: "" });

  const primaryIp = new Promise((resolve) => vm.on("guest-change", (c) => c.field === "primaryIp" && resolve(c.value)));
  assert.equal((await vm.tclo("Set_Option broadcastIP 1")).ok, true);
  const ip = await primaryIp;
  const addresses = Object.values(networkInterfaces()).flat().map((a) => a?.address);
  assert.ok(addresses.includes(ip as string), `${ip} is one of this machine's addresses`);
  assert.equal((await vm.guest()).guest.primaryIp, ip);

  await vm.guestinfo.set("role", "web");
  vm.stdin!.end("go\n");
  let output = "";
  for await (const chunk of vm.stdout!) output += chunk;
  assert.equal(output, "web\n");

  const exit = await vm.exited;
  assert.equal(exit.status, 0);
  assert.deepEqual(exit.report.tclo.commands.map((c) => [c.command, c.outcome]), [["reset", "ok"], ["ping", "ok"], ["Set_Option broadcastIP 1", "ok"]]);
});
