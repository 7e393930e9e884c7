/**
 * `vmport demo`: a real guest (this package's own guest CLI, in a Node process) against the simulated host,
 * under `vmport run`, on the default profile — then what the host recorded. Needs only Node and this package.
 */
import { fileURLToPath } from "node:url";
import { runTraced } from "../host/tracer/run.js";

/** Run the demo; returns the exit status. */
export async function runDemo(): Promise<number> {
  const main = fileURLToPath(new URL(import.meta.url.endsWith(".ts") ? "./main.ts" : "./main.js", import.meta.url));
  const node = import.meta.url.endsWith(".ts") ? [process.execPath, "--import", "tsx", main] : [process.execPath, main];
  process.stdout.write("host:  starting a guest under vmport run (simulated ESX host, default profile)\n");
  process.stdout.write('host:  guestinfo.metadata = {"instance-id":"demo-1"}\n');
  const out = await runTraced({
    argv: [...node, "guest", "demo-steps"],
    env: Object.entries(process.env).map(([k, v]) => `${k}=${v ?? ""}`),
    profile: {},
    state: null,
    guestinfo: [["metadata", '{"instance-id":"demo-1"}']],
    tclo: [],
    tracePath: null,
    pinCpu: null,
    seccomp: true,
  });
  const g = out.guest;
  process.stdout.write(
    `host:  the guest exited with status ${out.result.exitStatus} after ${out.result.traps} backdoor calls (all trapped and emulated)\n`,
  );
  process.stdout.write(`host:  recorded guestinfo.demo.greeting = ${JSON.stringify(g.guestinfo["guestinfo.demo.greeting"] ?? null)}\n`);
  process.stdout.write(`host:  recorded log: ${JSON.stringify(g.log)}\n`);
  return out.result.exitStatus;
}
