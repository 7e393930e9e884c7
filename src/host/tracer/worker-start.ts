/**
 * Starting the tracer worker thread early: a new thread spends most of `vmport run`'s start-up loading its modules
 * (the engine, the tracer, koffi), so the CLI starts it as soon as it knows the command is `run`, and the job
 * (`WorkerJob`) is posted to it once the options are validated. Until then the worker waits and does not keep
 * the process alive (a usage error still exits at once).
 *
 * Emulates: nothing. Source of truth: `docs/performance.md` (where start-up time goes).
 * Does not: validate anything or know about the job.
 */
import { Worker } from "node:worker_threads";

/** Message that hands the worker its job (the worker waits for it when started without `workerData`). */
export const JOB_MESSAGE = "job";

let early: Worker | null = null;
/** The prestarted worker failed or exited before it was taken (then a new one is started, which reports why). */
let earlyGone = false;

/** Start a tracer worker thread now; it loads its modules and waits for a {@link JOB_MESSAGE}. */
export function startTracerWorker(): Worker {
  const here = new URL(import.meta.url);
  const ext = here.pathname.endsWith(".ts") ? ".ts" : ".js";
  const url = new URL(`./worker${ext}`, here);
  // Under tsx (tests, benchmarks) the worker must register the TypeScript loader itself before importing the
  // worker module (Node 20 does not apply the parent's --import hooks to a worker's entry); the built CLI runs JS.
  const worker =
    ext === ".ts"
      ? new Worker(`import("tsx/esm/api").then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`, { eval: true })
      : new Worker(url);
  worker.unref(); // until a job is posted: a CLI that stops early must not wait for this thread
  return worker;
}

/** Start the worker for the next {@link takeTracerWorker} now (idempotent). */
export function prestartTracerWorker(): void {
  if (early !== null) return;
  const w = startTracerWorker();
  early = w;
  earlyGone = false;
  const gone = () => {
    if (early === w) earlyGone = true;
  };
  w.once("error", gone).once("exit", gone);
}

/** The prestarted worker, or a new one; it holds the process open again. */
export function takeTracerWorker(): Worker {
  const w = early !== null && !earlyGone ? early : startTracerWorker();
  early = null;
  w.ref();
  return w;
}
