/**
 * `guestlib.stat.get` answers: request parsing (`stat raw` sends three spaces), the stat list and the metrics in
 * every encoding, escaping, metrics the profile leaves unavailable, and 64-bit values written digit for digit.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveProfile } from "../devices/profile.js";
import { STAT_ENCODINGS, answerStatGet, encodeMetrics, encodeStatList, statMetrics, type StatSource } from "./guest-stats.js";

const src = (profile: object = {}): StatSource => ({ profile: resolveProfile(profile), sessionId: 0xffffffffffffffffn, uptimeUs: 5n });

test("arguments: an empty encoding is text, an empty stat lists the stats, the parameter follows the stat", () => {
  assert.deepEqual(answerStatGet("  ", src()), { ok: true, text: "session\nhost\nresources\n" });
  assert.deepEqual(answerStatGet("", src()), { ok: true, text: "session\nhost\nresources\n" });
  assert.deepEqual(answerStatGet("json ", src()), { ok: true, text: '{"stats":["session","host","resources"]}\n' });
  assert.equal(answerStatGet("text session ", src()).ok, true);
  assert.deepEqual(answerStatGet("text vscsi scsi0:0", src()), { ok: false, text: "No such stat" });
  assert.deepEqual(answerStatGet("TEXT session", src()), { ok: false, text: "Unknown encoding" });
});

test("the stat list in every encoding", () => {
  assert.deepEqual(
    STAT_ENCODINGS.map((e) => encodeStatList(e)),
    [
      "session\nhost\nresources\n",
      '{"stats":["session","host","resources"]}\n',
      "<stats><stat>session</stat><stat>host</stat><stat>resources</stat></stats>\n",
      "- session\n- host\n- resources\n",
    ],
  );
});

test("metrics: numbers with type and units, text as text, escaped in XML and JSON; u64 values exact", () => {
  const m = [
    { name: "big", type: "static" as const, units: "number", value: 0xffffffffffffffffn },
    { name: "path", text: '/a<b>&"c"' },
    { name: "empty", text: "" },
  ];
  assert.equal(encodeMetrics("text", m, 1n), 'big = 18446744073709551615\npath = /a<b>&"c"\nempty =\n');
  assert.equal(
    encodeMetrics("xml", m, 1n),
    '<metrics session="1"><metric name="big" type="static" units="number">18446744073709551615</metric>' +
      '<metric name="path">/a&lt;b&gt;&amp;&quot;c&quot;</metric><metric name="empty"></metric></metrics>\n',
  );
  const json = encodeMetrics("json", m, 1n);
  assert.equal(
    json,
    '{"session":"1","metrics":{"big":{"type":"static","units":"number","value":18446744073709551615},"path":"/a<b>&\\"c\\"","empty":""}}\n',
  );
  assert.equal((JSON.parse(json) as { metrics: { path: string } }).metrics.path, '/a<b>&"c"');
  assert.equal(
    encodeMetrics("yaml", m, 1n),
    'big:\n    type: static\n    units: number\n    value: 18446744073709551615\npath: "/a<b>&\\"c\\""\nempty: ""\n',
  );
});

test("resources come from the profile's guestlib numbers; null ones are left out; limits default to the VM size", () => {
  const names = (p: object) => statMetrics("resources", src(p))!.map((x) => x.name);
  assert.ok(names({}).includes("mem.ballooned"));
  assert.ok(!names({ guestlib: { memBalloonedMb: null, resourcePoolPath: null } }).includes("mem.ballooned"));
  assert.ok(!names({ guestlib: { resourcePoolPath: null } }).includes("resourcePool"));
  const limit = statMetrics("resources", src({ memSizeMb: 4096 }))!.find((x) => x.name === "mem.limit");
  assert.deepEqual(limit, { name: "mem.limit", type: "static", units: "MB", value: 4096 });
  assert.equal(statMetrics("nope", src()), null);
});
