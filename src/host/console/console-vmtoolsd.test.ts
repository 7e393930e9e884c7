/**
 * The web console end to end, in real headless Chromium: the real vmtoolsd (guestInfo plugin only, private plugin
 * directory, empty common directory, private config) under `vmport run --console`. The page shows the tools
 * version and, after its broadcastIP button, this machine's IP; a guestinfo key added in the page is what
 * `vmware-rpctool` reads inside the guest; the ping button shows the guest's OK; the feed shows the calls. A
 * screenshot goes to `artifacts/console-vmtoolsd.png` (ignored by git; a CI artifact).
 * Safety: vmtoolsd receives only the automatic reset, `ping` and `Set_Option broadcastIP 1`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { needs, ptraceUsable, ROOT, runs } from "../../test-support/system.js";
import { artifactPath, launchChromium } from "../../test-support/browser.js";

const skip =
  needs("open-vm-tools", "open-vm-tools", () => runs("vmware-checkvm", ["-h"]) && existsSync("/usr/bin/vmware-rpctool")) ||
  needs("chromium", "chromium", () => existsSync("/usr/bin/chromium")) ||
  (ptraceUsable() ? false : "needs Linux on x86-64");
const PLUGIN = "/usr/lib/x86_64-linux-gnu/open-vm-tools/plugins/vmsvc/libguestInfo.so";

test("console + vmtoolsd in Chromium: tools version, the machine's IP, a page edit read by vmware-rpctool, ping → OK, the call feed", {
  skip,
  timeout: 180_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "vmport-console-"));
  mkdirSync(join(dir, "plugins"));
  mkdirSync(join(dir, "common"));
  symlinkSync(PLUGIN, join(dir, "plugins", "libguestInfo.so"));
  const conf = join(dir, "tools.conf");
  writeFileSync(conf, "[logging]\nlog = false\n");
  // vmtoolsd in the background; the guest polls for the key the page will add, prints it, and exits 3.
  const script = [
    `timeout -s TERM 120 vmtoolsd -n vmsvc -c ${conf} -p ${join(dir, "plugins")} --common-path ${join(dir, "common")} >/dev/null 2>&1 &`,
    `for i in $(seq 600); do v=$(vmware-rpctool "info-get guestinfo.fromPage" 2>/dev/null) && break; sleep 0.2; done`,
    `echo "guest read: $v"`,
    `sleep 1; kill $!; exit 3`,
  ].join("\n");
  const run = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "run", "--console", "--", "sh", "-c", script], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  run.stdout.on("data", (d: Buffer) => (out += d.toString()));
  run.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const ended = new Promise<number | null>((r) => run.on("exit", (c) => r(c)));
  for (let i = 0; i < 600 && !/console at http/.test(err); i++) await new Promise((r) => setTimeout(r, 50));
  const line = err.split("\n")[0]!;
  assert.match(line, /^vmport: console at http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32}$/);
  const url = line.slice("vmport: console at ".length);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    await page.goto(url);
    await page.waitForSelector("#status.running");
    // The tools answer the automatic reset; Capabilities_Register makes them report their version.
    await page.locator("#summary dd:nth-of-type(1)", { hasText: /^running$/ }).waitFor({ timeout: 60_000 });
    await page.click('button.tclo[data-cmd="Capabilities_Register"]');
    await page.locator("#tclo-results li.ok", { hasText: /^Capabilities_Register → OK/ }).waitFor({ timeout: 30_000 });
    await page.locator("#summary dd:nth-of-type(2)", { hasText: /^\d+/ }).waitFor({ timeout: 30_000 });
    // broadcastIP: the tools send the machine's IP.
    await page.click('button.tclo[data-cmd="Set_Option broadcastIP 1"]');
    await page.locator("#tclo-results li.ok", { hasText: "Set_Option broadcastIP 1 → OK" }).waitFor({ timeout: 30_000 });
    const ips = Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((a) => a.address));
    const ipCell = page.locator("#summary dd:nth-of-type(6)");
    await ipCell.filter({ hasText: /\d+\.\d+\.\d+\.\d+|:/ }).waitFor({ timeout: 30_000 });
    const ip = ((await ipCell.textContent()) ?? "").trim();
    assert.ok(ips.includes(ip), `${ip} is not one of ${ips.join(", ")}`);
    // ping: the guest's OK.
    await page.click('button.tclo[data-cmd="ping"]');
    await page.locator("#tclo-results li.ok", { hasText: /^ping → OK/ }).waitFor({ timeout: 30_000 });
    // The feed shows the calls (the tools' TCLO loop and RPCs through the message channel).
    await page.locator("#chart", { hasText: "MESSAGE" }).waitFor({ timeout: 10_000 });
    assert.ok((await page.locator("#feed-rows .frow").count()) > 0);
    // A guestinfo edit in the page reaches vmware-rpctool in the guest.
    await page.fill("#gi-key", "fromPage");
    await page.fill("#gi-value", "edited in the console");
    await page.click("#gi-add button");
    await page.locator("#status.exited", { hasText: "exited 3" }).waitFor({ timeout: 60_000 });
    await page.screenshot({ path: artifactPath("console-vmtoolsd.png"), fullPage: true });
  } finally {
    await browser.close();
  }
  const status = await ended;
  assert.equal(status, 3, err);
  assert.equal(out, "guest read: edited in the console\n");
});
