/**
 * One VM's messaging: the channel table wired to the RPCI dispatcher and the TCLO queue, the guestinfo store and
 * the reported-state model.
 *
 * Emulates: everything behind backdoor command 30 and the HB port of a VMware VMX.
 * Source of truth: see the modules it composes.
 * Does not: register itself on the backdoor; the VM does (`vm/virtual-machine.ts`), so a VM with the backdoor
 * disabled still has a guestinfo store the host can fill.
 */
import type { Clock } from "../core/clock.js";
import { cryptoRandom, type RandomSource } from "../core/random.js";
import { fromUtf8 } from "../core/text.js";
import type { VmProfile } from "../devices/profile.js";
import type { BackdoorState } from "../devices/backdoor/backdoor-state.js";
import { GuestinfoStore } from "./guestinfo-store.js";
import { ReportedState } from "./reported-state.js";
import { NamespaceDb } from "./namespace-db.js";
import { MessageChannels } from "./message-channel.js";
import { RpciDispatcher } from "./rpci-dispatcher.js";
import { registerStandardRpci } from "./rpci-handlers.js";
import { TcloQueue } from "./tclo.js";
import { TcloHistory } from "./tclo-history.js";

/** Options of {@link Messaging}. */
export interface MessagingOptions {
  /** The VM profile. */
  profile: VmProfile;
  /** The VM clock (TCLO timeouts, channel idle ages, guestlib elapsed time). */
  clock: Clock;
  /** Cookie source. Default: Web Crypto. */
  random?: RandomSource;
  /** The LB device's state (for `vmx.set_option synctime`), or null without a backdoor. */
  backdoorState: BackdoorState | null;
  /** VM start on the monotonic clock. */
  startMonotonicNs: bigint;
}

/** The composed messaging of one VM. */
export class Messaging {
  /** guestinfo variables. */
  readonly guestinfo = new GuestinfoStore();
  /** What the guest reported, as the host models it (tools, OS, NICs, disks, guestinfo…). */
  readonly reported: ReportedState;
  /** The namespace database (`namespace-priv-*`, `vmware-namespace-cmd`). */
  readonly namespaces = new NamespaceDb();
  /** RPCI handlers; register more with `rpci.register`. */
  readonly rpci = new RpciDispatcher();
  /** Host → guest commands. */
  readonly tclo: TcloQueue;
  /** Every TCLO command queued and what became of it (bounded). */
  readonly tcloHistory = new TcloHistory();
  /** The channel table (command 30 + HB). */
  readonly channels: MessageChannels;

  constructor(o: MessagingOptions) {
    this.reported = new ReportedState(this.guestinfo);
    // guestinfo changes are guest-model changes too (value as text, null when deleted).
    this.guestinfo.changes.on((c) => {
      if (this.reported.changes.size > 0)
        this.reported.emit({ field: "guestinfo", key: c.key, value: c.value === null ? null : fromUtf8(c.value) });
    });
    this.tclo = new TcloQueue(o.clock, { resetOnOpen: o.profile.tcloResetOnOpen, trailingNul: o.profile.tcloTrailingNul });
    this.tclo.events.on(this.tcloHistory.listener);
    this.tclo.events.on((e) => {
      // vmtoolsd answers reset with "OK ATR <service>" (toolbox, toolbox-dnd).
      if (e.type === "result" && e.command === "reset" && e.result.ok && e.result.text.startsWith("ATR ")) {
        this.reported.set("toolsRunning", true);
        this.reported.set("toolsService", e.result.text.slice(4));
      }
    });
    registerStandardRpci(this.rpci, {
      profile: o.profile,
      clock: o.clock,
      guestinfo: this.guestinfo,
      reported: this.reported,
      backdoorState: o.backdoorState,
      startMonotonicNs: o.startMonotonicNs,
      namespaces: this.namespaces,
    });
    this.channels = new MessageChannels({
      maxChannels: o.profile.maxChannels,
      highBandwidth: o.profile.highBandwidth,
      clock: o.clock,
      random: o.random ?? cryptoRandom,
      rpci: this.rpci,
      tclo: this.tclo,
    });
  }
}
