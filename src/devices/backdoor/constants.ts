/**
 * VMware backdoor constants, with their upstream names and values.
 *
 * Source of truth: open-vm-tools `lib/include/backdoor_def.h`, `lib/include/vm_vmx_type.h`,
 * `lib/include/vmware/guestrpc/tclodefs.h`, `lib/include/removable_device.h` (see `docs/protocol.md` §1, §3).
 * Does not: list command numbers vmport does not implement yet, except those other modules register.
 */

/** "VMXh": must be in EAX on every backdoor call. */
export const BDOOR_MAGIC = 0x564d5868;
/** Low-bandwidth port ("VX"). */
export const BDOOR_PORT = 0x5658;
/** High-bandwidth port (`rep insb` / `rep outsb`). */
export const BDOORHB_PORT = 0x5659;
/** The command is the low 16 bits of ECX (`BDOOR_CMD(ecx)`); bits 16–31 carry a sub-command. */
export const BDOOR_CMD_MASK = 0xffff;
/** What an unknown command, an absent device or a failed call returns in EAX. */
export const BDOOR_FAIL = 0xffffffff;

/** LB command numbers (`BDOOR_CMD_*`). */
export const BdoorCmd = {
  GETMHZ: 1,
  GETPTRLOCATION: 4,
  SETPTRLOCATION: 5,
  GETSELLENGTH: 6,
  GETNEXTPIECE: 7,
  SETSELLENGTH: 8,
  SETNEXTPIECE: 9,
  GETVERSION: 10,
  GETDEVICELISTELEMENT: 11,
  TOGGLEDEVICE: 12,
  GETGUIOPTIONS: 13,
  SETGUIOPTIONS: 14,
  GETSCREENSIZE: 15,
  GETHWVERSION: 17,
  GETUUID: 19,
  GETMEMSIZE: 20,
  GETTIME: 23,
  MESSAGE: 30,
  ABSPOINTER_DATA: 39,
  ABSPOINTER_STATUS: 40,
  ABSPOINTER_COMMAND: 41,
  GETHZ: 45,
  GETTIMEFULL: 46,
  GETTIMEFULL_WITH_LAG: 55,
  NESTING_CONTROL: 63,
  GET_VCPU_INFO: 68,
  ABSPOINTER_RESTRICT: 86,
  GETBUILDNUM: 100,
} as const;

/** `VMX_Type` (product type returned by GETVERSION in ECX). */
export const VmxType = {
  UNSET: 0,
  EXPRESS: 1,
  SCALABLE_SERVER: 2, // "ESX Server"
  WGS: 3,
  WORKSTATION: 4,
  WORKSTATION_ENTERPRISE: 5,
} as const;

/** `VERSION_MAGIC`: GETVERSION must return it for open-vm-tools to accept the host. */
export const VERSION_MAGIC = 6;

/**
 * GETHWVERSION's answer when the profile sets none. Xen's series: "VMware was not at all consistent … until
 * hw version 4", so 4 is the lowest version a guest can rely on.
 */
export const DEFAULT_HW_VERSION = 4;

/** NESTING_CONTROL sub-operations (ECX bits 16–31). */
export const NestingControl = { RESTRICT_BACKDOOR: 0, OPEN_BACKDOOR: 1, QUERY: 2 } as const;

/** GET_VCPU_INFO bits. Bit 31 set means "command not implemented". */
export const VcpuInfo = {
  SLC64: 0,
  SYNC_VTSCS: 1,
  HV_REPLAY_OK: 2,
  LEGACY_X2APIC_OK: 3,
  MMIO_HONORS_PAT: 4,
  RESERVED: 31,
} as const;

/** GUI option bits (GET/SETGUIOPTIONS). */
export const GuiOption = {
  AUTO_GRAB: 0x001,
  AUTO_UNGRAB: 0x002,
  AUTO_SCROLL: 0x004,
  AUTO_RAISE: 0x008,
  EXCHANGE_SELECTIONS: 0x010,
  WARP_CURSOR_ON_UNGRAB: 0x020,
  FULL_SCREEN: 0x040,
  TO_FULL_SCREEN: 0x080,
  TO_WINDOW: 0x100,
  AUTO_RAISE_DISABLED: 0x200,
  SYNC_TIME: 0x400,
  DISABLE_CURSOR_OPTIONS: 0x800,
} as const;

/** Legacy clipboard: GETSELLENGTH's "no host text is ready". */
export const SELECTION_NOT_READY = 0xffffffff; // -1
/** Legacy clipboard: `MAX_SELECTION_BUFFER_LENGTH` = 65 536 − 100. */
export const MAX_SELECTION_BUFFER_LENGTH = 65436;

/** `RD_Info`: name (32 bytes, NUL-terminated), uid u32 at 32, enabled byte at 36, padded to 40. */
export const RD_INFO_SIZE = 40;
/** Bytes of `RD_Info.name`, including the terminating NUL. */
export const RD_INFO_NAME_SIZE = 32;
/** Removable devices a profile may list: `vmware-toolbox-cmd device list` walks ids 0–49. */
export const MAX_REMOVABLE_DEVICES = 50;

/** RDPMC pseudo-counters (`BDOOR_PMC_*`). */
export const BdoorPmc = {
  HW_TSC: 0x10000,
  REAL_NS: 0x10001,
  APPARENT_NS: 0x10002,
  PSEUDO_TSC: 0x10003,
} as const;
