/** Exercises every guest API call under `vmport run` and prints one JSON object (used by guest.test.ts). */
import * as g from "../index.js";

const out: Record<string, unknown> = {};
out["detect"] = g.detect();
out["version"] = g.getVersion();
out["getHb"] = g.guestinfo.get("foo");
out["getLb"] = g.guestinfo.get("foo", { hb: false });
out["missing"] = g.guestinfo.get("nonexist");
g.guestinfo.set("fromnode", "set over HB");
g.guestinfo.set("fromnodelb", "set over LB", { hb: false });
out["readBack"] = [g.guestinfo.get("fromnode"), g.guestinfo.get("fromnodelb", { hb: false })];
g.log("api test line");
const t = g.hostTime();
out["hostTimeOk"] = Math.abs(t.date.getTime() - Date.now()) < 60_000 && t.maxLagMicros === 1_000_000;
const u = g.rpc("frobnicate");
out["unknown"] = { ok: u.ok, text: u.text };
out["big"] = (() => {
  const v = "x".repeat(60_000);
  g.guestinfo.set("big", v);
  return g.guestinfo.get("big") === v && g.guestinfo.get("big", { hb: false }) === v;
})();
process.stdout.write(JSON.stringify(out) + "\n");
