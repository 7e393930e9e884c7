/** The dangerous-TCLO rule: power, clock, backup, customisation, Vix, HGFS refused; everyday commands pass. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { tcloDanger } from "./tclo-safety.js";

test("commands that act on the machine are named; everyday commands are not", () => {
  for (const c of [
    "OS_Halt",
    "OS_Reboot",
    " OS_Halt\0",
    "Time_Synchronize 1",
    "TimeInfo_Update",
    "vmbackup.start 1",
    "deployPkg.begin",
    "Vix_1_Relayed_Command x",
    "f",
    "Set_Option synctime 1",
    "Set_Option  synctime  1",
    "vmsupport.start",
  ]) {
    assert.notEqual(tcloDanger(c), null, c);
  }
  for (const c of [
    "ping",
    "reset",
    "Capabilities_Register",
    "Set_Option broadcastIP 1",
    "Set_Option synctime 0",
    "Bogus_Command",
    "OS_Haltx",
    "fx",
    "",
  ]) {
    assert.equal(tcloDanger(c), null, c);
  }
});
