/**
 * The hostile host of one fuzz run: the {@link AnswerHooks} that mutate the engine's answers, record every mutation
 * (so the run can be given again exactly, with no randomness) and collect the run's coverage keys.
 *
 * Emulates: a VMware host that answers every question, but not politely. Each answer point the guest reaches (an
 * LB command result — message-channel steps included —, an HB transfer, an RPCI reply) gets the next index; a
 * point is mutated when the plan says so (`replay`: exactly the recorded mutations; else the base record of a
 * corpus entry plus fresh random ones at the run's rate).
 * Source of truth: `docs/fuzzing.md`; the answer record is `answers.ts`, the mutations `mutations.ts`.
 * Does not: mutate anything the guest did not ask; make a recorded answer apply to a different question (a
 * recorded RPCI reply is given only to the same command name, an LB result only to the same command number).
 */
import type { AnswerHooks } from "../devices/answer-hooks.js";
import { PatchBit, type RegisterPatch } from "../devices/backdoor/command-registry.js";
import { MAX_REPLY_SIZE } from "../channels/constants.js";
import { fromB64, toB64, type AnswerRecord, type MutatedAnswer } from "./answers.js";
import { mutateRpciReply, mutateWord } from "./mutations.js";
import type { Prng } from "./prng.js";

/** Most coverage keys one run records (a guest inventing RPC names cannot grow the set further). */
export const MAX_KEYS_PER_RUN = 4096;
/** Most mutated answers one run records; past it the host answers honestly. */
export const MAX_MUTATIONS_PER_RUN = 256;
/** The message-channel command (its steps are answer points too). */
const CMD_MESSAGE = 30;
/**
 * Share of runs that make one message-channel step or HB transfer fail or answer oddly. At most one such mutation
 * per run: a long reply is thousands of steps, and a failed step ends the exchange, so more would hide the reply
 * mutations behind failures.
 */
export const CHANNEL_RUN_SHARE = 0.25;
/** Probability per step (or HB transfer) of that one mutation, in a run that makes one. */
export const CHANNEL_STEP_RATE = 0.05;

const REGS = [
  ["eax", PatchBit.EAX],
  ["ebx", PatchBit.EBX],
  ["ecx", PatchBit.ECX],
  ["edx", PatchBit.EDX],
  ["esi", PatchBit.ESI],
  ["edi", PatchBit.EDI],
  ["ebp", PatchBit.EBP],
] as const;

function setReg(p: RegisterPatch, name: string, v: number): void {
  switch (name) {
    case "eax":
      p.eax(v);
      break;
    case "ebx":
      p.ebx(v);
      break;
    case "ecx":
      p.ecx(v);
      break;
    case "edx":
      p.edx(v);
      break;
    case "esi":
      p.esi(v);
      break;
    case "edi":
      p.edi(v);
      break;
    case "ebp":
      p.ebp(v);
      break;
  }
}

function getReg(p: RegisterPatch, name: string): number {
  return (p as unknown as Record<string, number>)[`${name}Value`]!;
}

/** What one run does to the host's answers. */
export interface AnswerPlan {
  /** Mutations to give at their indices (a replay, or the corpus entry this run starts from). */
  base: readonly MutatedAnswer[];
  /** Fresh random mutations at points `base` does not cover, or null for an exact replay. */
  rng: Prng | null;
  /** Probability that an LB result or RPCI reply is mutated (channel steps and HB transfers: see {@link CHANNEL_RUN_SHARE}). */
  rate: number;
}

/** The hooks of one run. */
export class Answerer implements AnswerHooks {
  /** Answer points reached. */
  points = 0;
  /** The mutations given, in order. */
  readonly mutated: MutatedAnswer[] = [];
  /** Coverage keys: `rpc:NAME`, `lb:CMD` (`lb:30.TYPE` for message steps), `seq:A>B` for consecutive LB keys, `hb:in|out`, and what {@link note} adds. */
  readonly keys = new Set<string>();
  /** Recorded mutations not given because the guest asked something else at that point. */
  mismatches = 0;
  private readonly base: Map<number, MutatedAnswer>;
  private lastLb = "start";
  /** Channel-step or HB mutations this run may still make. */
  private channelBudget: number;

  constructor(private readonly plan: AnswerPlan) {
    this.base = new Map(plan.base.map((m) => [m.i, m]));
    this.channelBudget = plan.rng?.chance(CHANNEL_RUN_SHARE) ? 1 : 0;
  }

  /** The record of this run. */
  record(): AnswerRecord {
    return { points: this.points, mutated: this.mutated };
  }

  private key(k: string): void {
    if (this.keys.size < MAX_KEYS_PER_RUN) this.keys.add(k);
  }

  /** Note a coverage key seen outside the hooks (`tclo:NAME:ok|error|none`: how the guest answered a TCLO command). */
  note(k: string): void {
    this.key(k);
  }

  /** The planned mutation at point `i`, or whether to make a fresh one (`channel`: a step or an HB transfer). */
  private planned(i: number, channel: boolean): MutatedAnswer | "fresh" | null {
    const b = this.base.get(i);
    if (b !== undefined) return b;
    const rng = this.plan.rng;
    if (rng === null || this.mutated.length >= MAX_MUTATIONS_PER_RUN) return null;
    if (!channel) return rng.chance(this.plan.rate) ? "fresh" : null;
    if (this.channelBudget === 0 || !rng.chance(CHANNEL_STEP_RATE)) return null;
    this.channelBudget--;
    return "fresh";
  }

  lbResult(command: number, subcommand: number, patch: RegisterPatch): void {
    const i = this.points++;
    const k = command === CMD_MESSAGE ? `lb:${command}.${subcommand}` : `lb:${command}`;
    this.key(k);
    this.key(`seq:${this.lastLb}>${k}`);
    this.lastLb = k;
    const p = this.planned(i, command === CMD_MESSAGE);
    if (p === null) return;
    if (p !== "fresh") {
      if (p.kind === "step" && command === CMD_MESSAGE && p.type === subcommand) {
        patch.clear().ecx(0);
        this.mutated.push(p);
      } else if (p.kind === "lb" && p.command === command) {
        for (const [name, v] of Object.entries(p.regs)) setReg(patch, name, v);
        this.mutated.push(p);
      } else this.mismatches++;
      return;
    }
    const rng = this.plan.rng!;
    if (command === CMD_MESSAGE && rng.chance(0.5)) {
      patch.clear().ecx(0); // the step fails
      this.mutated.push({ i, kind: "step", type: subcommand, mutation: "fail" });
      return;
    }
    const set = REGS.filter(([, bit]) => (patch.mask & bit) !== 0);
    const [name] = set.length > 0 ? rng.pick(set) : rng.pick(REGS);
    const before = set.length > 0 ? getReg(patch, name) : 0;
    const v = mutateWord(rng, before);
    setReg(patch, name, v);
    this.mutated.push({ i, kind: "lb", command, mutation: `${name}`, regs: { [name]: v } });
  }

  hbFail(direction: "in" | "out", _size: number): boolean {
    const i = this.points++;
    this.key(`hb:${direction}`);
    const p = this.planned(i, true);
    if (p === null) return false;
    if (p !== "fresh") {
      if (p.kind === "hb" && p.direction === direction) {
        this.mutated.push(p);
        return true;
      }
      this.mismatches++;
      return false;
    }
    this.mutated.push({ i, kind: "hb", direction, mutation: "fail" });
    return true;
  }

  rpciReply(name: string, _request: Uint8Array, reply: Uint8Array): Uint8Array {
    const i = this.points++;
    this.key(`rpc:${name}`);
    const p = this.planned(i, false);
    if (p === null) return reply;
    if (p !== "fresh") {
      if (p.kind === "rpci" && p.command === name) {
        this.mutated.push(p);
        return fromB64(p.reply.base64);
      }
      this.mismatches++;
      return reply;
    }
    const m = mutateRpciReply(this.plan.rng!, reply, MAX_REPLY_SIZE);
    this.mutated.push({ i, kind: "rpci", command: name, mutation: m.mutation, reply: { base64: toB64(m.reply) } });
    return m.reply;
  }
}
