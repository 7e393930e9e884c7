/**
 * Message-channel constants (backdoor command 30) and the bounds vmport puts on guest-controlled sizes.
 *
 * Source of truth: open-vm-tools `lib/include/guest_msg_def.h`, `lib/include/rpcout.h`, `lib/rpcIn/rpcin.c`,
 * `lib/include/backdoor_def.h` (see `docs/protocol.md` §4); bounds are vmport's, each named and documented.
 */

/** Message types, in ECX bits 16–31 of command 30. */
export const MessageType = {
  OPEN: 0,
  SENDSIZE: 1,
  SENDPAYLOAD: 2,
  RECVSIZE: 3,
  RECVPAYLOAD: 4,
  RECVSTATUS: 5,
  CLOSE: 6,
} as const;

/** Status bits, returned in ECX bits 16–31 (LB) or EBX bits 16–31 (HB). */
export const MessageStatus = {
  SUCCESS: 0x0001,
  /** A message waits for the guest. */
  DORECV: 0x0002,
  CLOSED: 0x0004,
  UNSENT: 0x0008,
  /** A checkpoint happened; the guest restarts the transfer (vmport never sets it). */
  CPT: 0x0010,
  POWEROFF: 0x0020,
  TIMEOUT: 0x0040,
  /** High-bandwidth transfer allowed. */
  HB: 0x0080,
} as const;

/** OPEN protocols (EBX without flags). */
export const Protocol = {
  /** Guest → host requests ("RPCI"). */
  RPCI: 0x49435052,
  /** Host → guest commands ("TCLO"). */
  TCLO: 0x4f4c4354,
} as const;

/** OPEN flag: the channel uses cookies. The only flag defined (`GUESTMSG_FLAG_ALL`). */
export const GUESTMSG_FLAG_COOKIE = 0x80000000;

/** HB command in BX: the message channel. */
export const BDOORHB_CMD_MESSAGE = 0;

/** Channels one VM may have open at once (`GUESTMSG_MAX_CHANNEL`); the profile's `maxChannels` default. */
export const DEFAULT_MAX_CHANNELS = 128;
/** Upper limit for the profile's `maxChannels`. */
export const MAX_CHANNELS_LIMIT = 1024;
/** Largest guest → host message (`GUESTMSG_MAX_IN_SIZE`). A larger SENDSIZE fails. */
export const MAX_MESSAGE_SIZE = 65536;
/**
 * Largest host → guest message (a reply or a TCLO command). Replies are built by the host from bounded data, so
 * this is a check on vmport itself: a longer reply is replaced by `"0 Reply too long"`.
 */
export const MAX_REPLY_SIZE = 65536;
/**
 * A channel idle this long (on the VM clock) may be reclaimed, but only when an OPEN finds every slot taken:
 * long-lived channels of well-behaved guests (vmtoolsd keeps one for hours) are never cut. 80 s is QEMU
 * vmport_rpc's sweep age.
 */
export const CHANNEL_IDLE_TIMEOUT_NS = 80_000_000_000n;
