/**
 * Browser-test helpers: Debian's Chromium through playwright-core with the flags this machine kind needs, and the
 * ignored folder screenshots go to (a CI artifact).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { ROOT } from "./system.js";

/** Chromium as root in a sandbox-less CI: the flags this machine kind needs (no background networking). */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Where screenshots go (CI artifact; ignored by git). */
export function artifactPath(name: string): string {
  const dir = join(ROOT, "artifacts");
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}
