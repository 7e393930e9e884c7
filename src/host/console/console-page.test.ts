/**
 * The console page in real headless Chromium (Debian's `chromium`, driven by playwright-core), against a scripted
 * source: guest text is inert, guestinfo edits and the pointer pad reach the source, the feed stays virtualised
 * with 100 000 calls, the filter and the chart work. The end-to-end test with the real vmtoolsd is in
 * `console-vmtoolsd.test.ts`. Screenshots go to `artifacts/` (ignored by git).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { needs } from "../../test-support/system.js";
import { artifactPath, launchChromium } from "../../test-support/browser.js";
import { startConsole, type ConsoleCall, type ConsoleListener, type ConsoleSource } from "./console-server.js";

const skip = needs("chromium", "chromium", () => existsSync("/usr/bin/chromium"));

/** A scripted session: hostile guest text, a long guestinfo value, and the edits and pointer input it receives. */
function scriptedSource() {
  const listeners = new Set<ConsoleListener>();
  const gi: Record<string, string> = { "guestinfo.long": "L".repeat(5000), "guestinfo.evil": "<img src=x onerror=alert(2)>" };
  const mouse: number[][] = [];
  const source: ConsoleSource = {
    snapshot: async () => ({
      status: {
        argv: ["vmtoolsd", "-n", "vmsvc"],
        pid: 4242,
        startedAtMs: Date.now() - 5000,
        running: true,
        exitStatus: null,
        signal: null,
      },
      guest: {
        toolsRunning: true,
        toolsVersion: 12352,
        toolsVersionType: 4,
        hostname: "<script>alert(1)</script>",
        osNameFull: "Debian \x1b[31mGNU",
        nics: [{ mac: "00:50:56:aa:bb:cc", ips: [{ address: "192.0.2.7", prefixLength: 24 }] }],
        disks: [],
      },
      guestinfo: { ...gi },
      counters: {},
      log: ["<b>not bold</b>"],
    }),
    setGuestinfo: async (k, v) => {
      gi[k.startsWith("guestinfo.") ? k : `guestinfo.${k}`] = v;
    },
    deleteGuestinfo: async (k) => void delete gi[k],
    tclo: async () => ({ ok: true, text: "" }),
    mouse: async (x, y, b, w) => void mouse.push([x, y, b, w]),
    subscribe: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  return { source, listeners, gi, mouse };
}

test("the page: guest text stays text, edits and pointer input reach the host, 100 000 calls stay virtualised", { skip }, async () => {
  const { source, listeners, gi, mouse } = scriptedSource();
  const c = await startConsole({ source, port: 0, allowDangerousTclo: false });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const dialogs: string[] = [];
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(c.url);
    await page.waitForSelector("#status.running");
    assert.equal(await page.textContent("#summary dd:nth-of-type(4)"), "<script>alert(1)</script>");
    assert.equal(await page.locator("#summary script").count(), 0);
    assert.equal(await page.textContent("#summary dd:nth-of-type(5)"), "Debian \\x1b[31mGNU", "a terminal escape is shown, not passed on");
    assert.match((await page.textContent("#nics")) ?? "", /192\.0\.2\.7\/24/);
    assert.equal(await page.locator("#guestinfo img").count(), 0, "a guestinfo value became HTML");
    assert.equal(await page.textContent("#log li"), "<b>not bold</b>");
    // A long value shows its start and expands on click.
    const longCell = page.locator('tr[data-key="guestinfo.long"] td.value');
    assert.equal(((await longCell.textContent()) ?? "").length, 201);
    await longCell.click();
    assert.equal(((await longCell.textContent()) ?? "").length, 5000);
    // Add a key from the page.
    await page.fill("#gi-key", "fromPage");
    await page.fill("#gi-value", "set in the browser");
    await page.click("#gi-add button");
    await page.waitForSelector('tr[data-key="guestinfo.fromPage"]');
    assert.equal(gi["guestinfo.fromPage"], "set in the browser");
    // 100 000 calls.
    const calls: ConsoleCall[] = Array.from({ length: 1000 }, (_, i) => ({
      t: Date.now(),
      vcpu: 1,
      command: i % 10 === 0 ? 30 : 10,
      subcommand: i % 10 === 0 ? 1 : null,
      port: 0x5658,
      op: "in",
      outcome: "completed",
    }));
    for (let k = 0; k < 100; k++) {
      for (const l of listeners) l.calls?.(calls);
      if (k % 10 === 9) await new Promise((r) => setTimeout(r, 150)); // 10 000 per batch interval, as a busy guest
    }
    await page.locator("#calls-count", { hasText: /^100000 calls/ }).waitFor({ timeout: 30_000 });
    // Calls the host dropped, told in two batches: the page shows their sum.
    for (const n of [3, 4]) {
      for (const l of listeners) l.callsDropped?.(n);
      await new Promise((r) => setTimeout(r, 250)); // past one batch interval: two "dropped" events
    }
    await page.locator("#dropped", { hasText: "(7 calls dropped" }).waitFor({ timeout: 10_000 });
    const rows = await page.locator("#feed-rows .frow").count();
    assert.ok(rows > 5 && rows < 100, `${rows} rows in the DOM`);
    await page.fill("#filter", "30");
    await page.locator("#calls-count", { hasText: "10000 shown" }).waitFor();
    await page.locator("#chart", { hasText: "GETVERSION90000" }).waitFor(); // 9 of every 10 calls
    await page.locator("#chart", { hasText: "MESSAGE10000" }).waitFor();
    // The pointer pad.
    const box = (await page.locator("#pad").boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.up();
    await page.locator("#pad-pos", { hasText: "x 3" }).waitFor();
    assert.ok(
      mouse.some(([x, y, b]) => Math.abs(x! - 32767) < 400 && Math.abs(y! - 32767) < 400 && b === 1),
      JSON.stringify(mouse.slice(-3)),
    );
    await page.screenshot({ path: artifactPath("console-scripted.png"), fullPage: true });
    assert.deepEqual(dialogs, [], "a script ran");
  } finally {
    await browser.close();
    await c.close();
  }
});
