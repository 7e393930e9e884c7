/**
 * Typed errors of `vmport run` across the worker boundary: a failure inside the tracer thread reaches the caller of
 * `runTraced` as a `VmportError` with the code it was raised with, and spawning reports its own code.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { isVmportError } from "../../core/errors.js";
import { ptraceUsable } from "../../test-support/system.js";
import { libc } from "../ptrace/libc.js";
import { runTraced } from "./run.js";
import { spawnSeized } from "./spawn.js";

const skip = ptraceUsable() ? false : "needs Linux on x86-64";

test("a VmportError raised in the tracer thread keeps its code (a bad profile: VMPORT_BAD_PROFILE)", { skip }, async () => {
  await assert.rejects(
    runTraced({
      argv: ["/bin/true"],
      env: [],
      profile: { mhz: "fast" } as never,
      state: null,
      guestinfo: [],
      tclo: [],
      tracePath: null,
      pinCpu: null,
      seccomp: true,
    }),
    (e: unknown) => {
      assert.ok(isVmportError(e), String(e));
      assert.equal(e.code, "VMPORT_BAD_PROFILE");
      assert.match(e.message, /^profile key "mhz": unknown key/);
      return true;
    },
  );
});

test("a trampoline that cannot be spawned: VMPORT_SPAWN_FAILED naming it", { skip }, () => {
  assert.throws(
    () =>
      spawnSeized(libc(), {
        exec: { path: "/bin/true", argv: ["true"] },
        env: [],
        trampoline: "/nonexistent/trampoline",
        seccomp: false,
        stdio: { closed: [false, false, false] },
        cwd: null,
      }),
    (e: unknown) => isVmportError(e) && e.code === "VMPORT_SPAWN_FAILED" && /\/nonexistent\/trampoline/.test(e.message),
  );
});
