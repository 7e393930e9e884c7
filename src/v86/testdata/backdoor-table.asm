; Multiboot (v1, a.out kludge) test kernel: runs a table of VMware backdoor calls in 32-bit protected mode at
; ring 0, prints each result on COM1 as "NAME EAX EBX ECX EDX ESI EDI", and exits through isa-debug-exit (port
; 0xF4, value 0). The same binary runs under `vmport v86` and `qemu-system-i386 -machine pc,vmport=on`.
; Build: nasm -f bin -o backdoor-table.bin backdoor-table.asm
BITS 32
ORG 0x100000
MAGIC equ 0x564D5868
MB_MAGIC equ 0x1BADB002
MB_FLAGS equ 0x00010000
header:
  dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
  dd header, header, end, end, start

%macro CALL_LB 3            ; name, ecx (command), ebx
  mov esi, %%name
  call puts
  mov eax, MAGIC
  mov ebx, %3
  mov ecx, %2
  mov edx, 0x5658
  mov esi, 0x11111111
  mov edi, 0x22222222
  in eax, dx
  call print_regs
  jmp %%done
%%name: db %1, ' ', 0
%%done:
%endmacro

start:
  mov esp, stack_top
  CALL_LB 'GETVERSION', 10, 0xFFFFFFFF
  CALL_LB 'GETHWVERSION', 17, 0xFFFFFFFF
  CALL_LB 'GETMEMSIZE', 20, 0
  CALL_LB 'GETMHZ', 1, 0
  CALL_LB 'GETHZ', 45, 0xFFFFFFFF
  CALL_LB 'GET_VCPU_INFO', 68, 0
  CALL_LB 'GETSCREENSIZE', 15, 0
  CALL_LB 'GETGUIOPTIONS', 13, 0
  CALL_LB 'UNKNOWN_0x99', 0x99, 0
  ; bad magic
  mov esi, badmagic_name
  call puts
  mov eax, 0x12345678
  mov ebx, 0
  mov ecx, 10
  mov edx, 0x5658
  mov esi, 0x11111111
  mov edi, 0x22222222
  in eax, dx
  call print_regs
  ; vmmouse handshake (Linux driver order)
  CALL_LB 'MOUSE_READ_ID', 41, 0x45414552
  CALL_LB 'MOUSE_STATUS', 40, 0
  CALL_LB 'MOUSE_DATA1', 39, 1
  CALL_LB 'MOUSE_RESTRICT', 86, 1
  CALL_LB 'MOUSE_ABSOLUTE', 41, 0x53424152
  CALL_LB 'MOUSE_STATUS2', 40, 0
  CALL_LB 'MOUSE_DISABLE', 41, 0xF5
  CALL_LB 'MOUSE_STATUS3', 40, 0
  ; RPCI over LB, then over HB
  mov byte [use_hb], 0
  call rpci
  mov byte [use_hb], 1
  call rpci
  ; isa-debug-exit with 0
  mov dx, 0xF4
  xor eax, eax
  out dx, al
.hang: hlt
  jmp .hang

badmagic_name: db 'BAD_MAGIC ', 0
rpci_lb_name: db 'RPCI-LB ', 0
rpci_hb_name: db 'RPCI-HB ', 0
msg: db 'info-get guestinfo.foo'
msg_end:
  dd 0
MSG_LEN equ msg_end - msg

; One RPCI exchange without cookies; prints the reply ("RPCI-LB 1 bar") or "FAIL <step>".
rpci:
  pushad
  mov esi, rpci_lb_name
  cmp byte [use_hb], 0
  je .n
  mov esi, rpci_hb_name
.n: call puts
  ; OPEN (RPCI, no cookie flag)
  mov eax, MAGIC
  mov ebx, 0x49435052
  mov ecx, 0x0000001E
  mov edx, 0x5658
  in eax, dx
  test ecx, 0x00010000
  jz .fail
  and edx, 0xFFFF0000
  mov [chan], edx
  ; SENDSIZE
  mov eax, MAGIC
  mov ebx, MSG_LEN
  mov ecx, 0x0001001E
  mov edx, [chan]
  or edx, 0x5658
  in eax, dx
  test ecx, 0x00010000
  jz .fail
  cmp byte [use_hb], 0
  jne .send_hb
  xor ebp, ebp
.send_lb:
  cmp ebp, MSG_LEN
  jae .sent
  mov eax, MAGIC
  mov ebx, [msg + ebp]
  mov ecx, 0x0002001E
  mov edx, [chan]
  or edx, 0x5658
  in eax, dx
  test ecx, 0x00010000
  jz .fail
  add ebp, 4
  jmp .send_lb
.send_hb:
  mov eax, MAGIC
  mov ebx, 0x00010000
  mov ecx, MSG_LEN
  mov edx, [chan]
  or edx, 0x5659
  mov esi, msg
  xor edi, edi
  xor ebp, ebp
  cld
  rep outsb
  test ebx, 0x00010000
  jz .fail
.sent:
  ; RECVSIZE
  mov eax, MAGIC
  mov ebx, 0
  mov ecx, 0x0003001E
  mov edx, [chan]
  or edx, 0x5658
  in eax, dx
  test ecx, 0x00020000
  jz .fail
  mov [rsize], ebx
  cmp byte [use_hb], 0
  jne .recv_hb
  xor ebp, ebp
.recv_lb:
  cmp ebp, [rsize]
  jae .received
  mov eax, MAGIC
  mov ebx, 1
  mov ecx, 0x0004001E
  mov edx, [chan]
  or edx, 0x5658
  in eax, dx
  test ecx, 0x00010000
  jz .fail
  mov [reply + ebp], ebx
  add ebp, 4
  jmp .recv_lb
.recv_hb:
  mov eax, MAGIC
  mov ebx, 0x00010000
  mov ecx, [rsize]
  mov edx, [chan]
  or edx, 0x5659
  xor esi, esi
  mov edi, reply
  xor ebp, ebp
  cld
  rep insb
  test ebx, 0x00010000
  jz .fail
.received:
  ; RECVSTATUS, CLOSE
  mov eax, MAGIC
  mov ebx, 1
  mov ecx, 0x0005001E
  mov edx, [chan]
  or edx, 0x5658
  in eax, dx
  mov eax, MAGIC
  mov ecx, 0x0006001E
  mov edx, [chan]
  or edx, 0x5658
  in eax, dx
  ; print the reply
  mov ecx, [rsize]
  mov esi, reply
.p: jecxz .eol
  mov al, [esi]
  call putc
  inc esi
  dec ecx
  jmp .p
.fail:
  mov esi, fail_name
  call puts
.eol:
  mov al, 10
  call putc
  popad
  ret
fail_name: db 'FAIL', 0

; print EAX EBX ECX EDX ESI EDI as hex, then a newline
print_regs:
  pushad
  push edi
  push esi
  push edx
  push ecx
  push ebx
  push eax
  mov ecx, 6
.next:
  pop eax
  push ecx
  call print_hex
  pop ecx
  cmp ecx, 1
  je .last
  mov al, ' '
  call putc
.last:
  loop .next
  mov al, 10
  call putc
  popad
  ret
print_hex:
  push ecx
  mov ecx, 8
.h:
  rol eax, 4
  push eax
  and al, 0x0F
  add al, '0'
  cmp al, '9'
  jbe .d
  add al, 7
.d:
  call putc
  pop eax
  loop .h
  pop ecx
  ret
puts:                 ; esi -> NUL-terminated
  push eax
.l: lodsb
  test al, al
  jz .e
  call putc
  jmp .l
.e: pop eax
  ret
putc:                 ; al
  push edx
  push eax
  mov dx, 0x3FD
.w: in al, dx
  test al, 0x20
  jz .w
  pop eax
  mov dx, 0x3F8
  out dx, al
  pop edx
  ret

align 4
use_hb: dd 0
chan: dd 0
rsize: dd 0
reply: times 256 db 0
align 16
  times 4096 db 0
stack_top:
end:
