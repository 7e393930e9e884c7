/* A library whose only function runs `cpuid` leaf 0x40000000 (the hypervisor signature). */
#include <stdint.h>
#include <string.h>
int vendor(char *out) {
  uint32_t a = 0x40000000, b, c = 0, d;
  __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
  memcpy(out, &b, 4); memcpy(out + 4, &c, 4); memcpy(out + 8, &d, 4); out[12] = 0;
  return 0;
}
