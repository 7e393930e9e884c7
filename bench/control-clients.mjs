// Control-socket clients for bench/control.bench.ts, in a process of their own (so the benchmark can place them on
// a CPU with taskset): `node control-clients.mjs SOCKET COUNT subscribe|connect`. Connects COUNT raw QMP clients,
// negotiates (and subscribes to BACKDOOR_CALL), does one query-status round trip each (the tracer then has its
// listener in place), prints "ready"; counts BACKDOOR_CALL lines and EVENTS_DROPPED counts, and on SHUTDOWN prints
// {"calls": N, "dropped": M} (summed over the clients) and exits. Lines are found with Buffer.indexOf and only their
// start is read: the measurement is of vmport, not of a JSON parser.
import { createConnection } from "node:net";

const [path, countText, mode] = process.argv.slice(2);
const count = Number(countText);
const subscribe = mode === "subscribe";
const st = { calls: 0, dropped: 0 };
let ready = 0;
let shut = 0;
for (let k = 0; k < count; k++) {
  const s = createConnection(path);
  let replies = -1; // the greeting first
  const want = subscribe ? 3 : 2; // qmp_capabilities, [subscribe,] query-status
  let tail = Buffer.alloc(0);
  s.on("error", (e) => {
    process.stderr.write(`control-clients: ${e.message}\n`);
    process.exit(1);
  });
  s.on("data", (d) => {
    const buf = tail.length > 0 ? Buffer.concat([tail, d]) : d;
    let i = 0;
    for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10, i)) {
      const start = buf.toString("latin1", i, Math.min(nl, i + 40));
      if (start.startsWith('{"event":"BACKDOOR_CALL"')) st.calls++;
      else if (start.startsWith('{"event":"EVENTS_DROPPED"'))
        st.dropped += Number(/"count":(\d+)/.exec(buf.toString("latin1", i, nl))?.[1] ?? 0);
      else if (start.startsWith('{"event":"SHUTDOWN"')) {
        s.destroy();
        if (++shut === count) {
          process.stdout.write(JSON.stringify(st) + "\n");
          process.exit(0);
        }
      } else if (!start.startsWith('{"event"') && ++replies === want) {
        if (++ready === count) process.stdout.write("ready\n");
      } else if (replies === 0)
        s.write(
          '{"execute":"qmp_capabilities"}\n' +
            (subscribe ? '{"execute":"subscribe","arguments":{"events":["BACKDOOR_CALL"]}}\n' : "") +
            '{"execute":"query-status"}\n',
        );
      i = nl + 1;
    }
    tail = Buffer.from(buf.subarray(i));
  });
}
