/** Prints detect() and both child probes as one JSON object: run under `vmport run` by guest.test.ts. */
import { detect } from "../backdoor.js";
import { probeInChild } from "../child-probe.js";

process.stdout.write(JSON.stringify({ detect: detect(), native: probeInChild("native"), node: probeInChild("node") }) + "\n");
