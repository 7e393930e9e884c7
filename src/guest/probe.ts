/**
 * The detection probe, run as a child process by `detect()`: one GETVERSION. Without a backdoor the `in`
 * faults and this process dies of SIGSEGV — which is the point: the caller survives.
 */
import { getVersionHere } from "./backdoor.js";

const r = getVersionHere();
process.stdout.write(`version=${r.version} magic=${r.magic} type=${r.productType}\n`);
