; Multiboot test kernel for the v86 benchmark: LOOPS × GETVERSION (in eax,dx at ring 0), then isa-debug-exit 0.
; Build: nasm -f bin -DLOOPS=100000 -o loop.bin getversion-loop.asm
BITS 32
ORG 0x100000
%ifndef LOOPS
%define LOOPS 100000
%endif
MB_MAGIC equ 0x1BADB002
MB_FLAGS equ 0x00010000
header:
  dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
  dd header, header, end, end, start
start:
  mov ebp, LOOPS
.loop:
  mov eax, 0x564D5868
  mov ebx, 0xFFFFFFFF
  mov ecx, 10
  mov edx, 0x5658
  in eax, dx
  dec ebp
  jnz .loop
  mov dx, 0xF4
  xor eax, eax
  out dx, al
.hang: hlt
  jmp .hang
end:
