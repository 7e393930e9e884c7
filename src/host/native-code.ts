/**
 * Small machine-code functions callable from Node: a page of anonymous executable memory (or a mapping of a file)
 * turned into a koffi function. Shared by the tracer (the real CPUID) and the guest library (backdoor stubs).
 *
 * Emulates: nothing. Does not: free pages (each stub lives as long as the process); work off x86-64 (callers check).
 */
import koffi from "koffi";

/** `void f(void* block)`-style stubs that read and write one memory block. */
export type NativeFn = (block: unknown) => void;

/** The real CPUID: `void cpuid(uint32_t io[4])`, in: io[0] = EAX, io[2] = ECX; out: io[0..3] = EAX, EBX, ECX, EDX. */
// biome-ignore format: byte fixture, one instruction or field per line with its mnemonic beside it
export const CPUID_CODE: readonly number[] = [
  0x53, // push rbx
  0x49, 0x89, 0xf8, // mov r8, rdi
  0x41, 0x8b, 0x00, // mov eax, [r8]
  0x41, 0x8b, 0x48, 0x08, // mov ecx, [r8+8]
  0x0f, 0xa2, // cpuid
  0x41, 0x89, 0x00, // mov [r8], eax
  0x41, 0x89, 0x58, 0x04, // mov [r8+4], ebx
  0x41, 0x89, 0x48, 0x08, // mov [r8+8], ecx
  0x41, 0x89, 0x50, 0x0c, // mov [r8+12], edx
  0x5b, // pop rbx
  0xc3, // ret
];

interface Mm {
  mmap: (addr: null, len: number, prot: number, flags: number, fd: number, off: number) => unknown;
  mprotect: (addr: unknown, len: number, prot: number) => number;
}
let mm: Mm | null = null;

function libc(): Mm {
  if (mm) return mm;
  const lib = koffi.load(process.platform === "linux" ? "libc.so.6" : "libc.dylib");
  mm = {
    mmap: lib.func("void* mmap(void* addr, size_t len, int prot, int flags, int fd, long off)") as Mm["mmap"],
    mprotect: lib.func("int mprotect(void* addr, size_t len, int prot)") as Mm["mprotect"],
  };
  return mm;
}

const PROTO = () => koffi.proto("void vmport_native(_Inout_ void* block)");
let proto: ReturnType<typeof PROTO> | null = null;

/** Copy `code` (at most one page) into a fresh anonymous page, make it read + execute, and return the page. */
export function executablePage(code: readonly number[]): unknown {
  if (code.length > 4096) throw new RangeError(`machine code of ${code.length} bytes does not fit one page`);
  const { mmap, mprotect } = libc();
  const page = mmap(null, 4096, 3 /* RW */, 0x22 /* PRIVATE|ANONYMOUS */, -1, 0);
  new Uint8Array(koffi.view(page, 4096)).set(code);
  if (mprotect(page, 4096, 5 /* RX */) !== 0) throw new Error("cannot make a code page executable");
  return page;
}

/** Copy `code` into a fresh anonymous page, make it read + execute, and return it as a function. */
export function anonymousFunction(code: readonly number[]): NativeFn {
  const page = executablePage(code);
  proto ??= PROTO();
  return koffi.decode(page, proto) as NativeFn;
}

/** Map one page of file `fd` at `offset` read + execute and return its start as a function, or null on failure. */
export function fileFunction(fd: number, offset: number): NativeFn | null {
  const p = libc().mmap(null, 4096, 5 /* R|X */, 0x02 /* MAP_PRIVATE */, fd, offset);
  if (koffi.address(p) === 0xffffffffffffffffn) return null;
  proto ??= PROTO();
  return koffi.decode(p, proto) as NativeFn;
}
