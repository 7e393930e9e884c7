/**
 * `vmport/host`: run a real Linux program against the simulated VMware host and drive and watch the host while it
 * runs (sessions), serve a session on a QMP control socket, and talk to such a socket.
 *
 * Emulates: the management side of a VMware host. Source of truth: `session.ts`, `control-server.ts` and the
 * README sections "Drive and watch the host while the guest runs" and "Control socket".
 * Does not: export the tracer's internals (`tracer/`), which are not a stable API.
 */
export {
  start,
  VmSession,
  ExecError,
  SESSION_EVENTS,
  TRACE_POLL_MS,
  TRACE_DELIVERY_MAX_PER_POLL,
  WAIT_POLL_MS,
  WAIT_DEFAULT_TIMEOUT_MS,
  type StartOptions,
  type TcloAnswer,
  type TcloResultEvent,
  type SessionExit,
  type SessionStatus,
  type SessionEvents,
} from "./session.js";
export type { HostDevice } from "./host-calls.js";
export { EVENT_BACKLOG_MAX } from "./tracer/worker-protocol.js";
export { TRACE_RING_SLOTS } from "./trace-ring.js";
export {
  ControlServer,
  prepareControlPath,
  CONTROL_MAX_LINE_BYTES,
  CONTROL_MAX_CLIENTS,
  CONTROL_MAX_PIPELINED,
  CONTROL_MAX_OUTPUT_BYTES,
  CONTROL_EVENT_HIGH_WATER,
  CONTROL_EVENT_QUEUE,
  CONTROL_SHUTDOWN_GRACE_MS,
  CONTROL_MAX_PATH_BYTES,
} from "./control-server.js";
export { EVENT_NAMES, BROADCAST_EVENTS, SUBSCRIBED_EVENTS, TCLO_SEND_MAX_TIMEOUT_MS } from "./qmp-commands.js";
export { QmpClient, QmpReplyError, QmpConnectionError, QMP_CLIENT_MAX_LINE_BYTES, type QmpEvent } from "./qmp-client.js";
