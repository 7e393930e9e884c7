/**
 * Which TCLO commands act on the machine the guest tools run on. Under `vmport run` that machine is the host
 * itself, often as root: `OS_Halt` really shuts it down. Front ends that let a person (or a fuzzer) type commands
 * refuse these unless told otherwise.
 *
 * Emulates: nothing; a safety rule. Source of truth: open-vm-tools `services/plugins/powerOps/powerOps.c`
 * (`OS_Halt`, `OS_Reboot`, `OS_PowerOn`, `OS_Resume`, `OS_Suspend` run the power scripts and then shut the system
 * down or reboot it), `services/plugins/timeSync/timeSync.c` (`Time_Synchronize`, `Set_Option synctime 1` step
 * the clock), `services/plugins/vmbackup/` (`vmbackup.*` freezes file systems), `services/plugins/deployPkg/`
 * (`deployPkg.*` customises and reboots the guest), `services/plugins/vix/` (`Vix_*` runs programs and moves files),
 * `services/plugins/hgfsServer/` (`f` is the HGFS transport), `services/plugins/vmsupport` (`vmsupport.start`
 * collects and uploads logs).
 * Does not: parse arguments beyond `Set_Option synctime`; judge commands it does not name (they go through).
 */

/** Command names (the text up to the first space) that act on the machine. */
const DANGEROUS_NAMES = new Set([
  "OS_Halt",
  "OS_Reboot",
  "OS_PowerOn",
  "OS_Resume",
  "OS_Suspend",
  "Time_Synchronize",
  "TimeInfo_Update",
  "f",
  "vmsupport.start",
]);
/** Name prefixes that act on the machine. */
const DANGEROUS_PREFIXES = ["vmbackup.", "deployPkg.", "Vix_"];

/**
 * Why `command` is dangerous to send to real guest tools on this machine, or null when it is not.
 * @param command - the TCLO command text, as it would be sent
 */
export function tcloDanger(command: string): string | null {
  const name = command.replace(/\0+$/, "").trimStart().split(/[ \0]/, 1)[0] ?? "";
  if (DANGEROUS_NAMES.has(name)) return `${name} acts on the machine the tools run on`;
  for (const p of DANGEROUS_PREFIXES) if (name.startsWith(p)) return `${p}* acts on the machine the tools run on`;
  if (name === "Set_Option") {
    const [, option, value] = command.trim().split(/\s+/);
    if (option === "synctime" && value !== "0") return "Set_Option synctime steps the clock of the machine";
  }
  return null;
}
