/*
 * The test guest of `vmport fuzz` (x86-64, built with gcc by the tests): a small guest tool with bugs planted on
 * purpose, one per mode, each in how it trusts the host's answers — and a `robust` mode that makes the same calls
 * and validates everything it receives.
 *
 *   overflow   info-get guestinfo.fuzz.name, then strcpy of the reply into a 32-byte stack buffer
 *   format     info-get guestinfo.fuzz.motd, then printf(reply)
 *   boundary   GETMHZ (backdoor command 1) four times, then 1000000 / MHz
 *   hang       answers TCLO commands (up to 30 polls); Set_Option's argument parser spins on a tab
 *   robust     all of the above, validated: bounded copies, printf("%s"), MHz 0 refused, tabs skipped
 *   robust-rpc robust without the TCLO loop (which sleeps between polls): the benchmark's program
 *   all        overflow, format, boundary and hang in one run
 * Exit status 0 when the calls worked, 1 when a backdoor step failed (which a hostile host may make happen).
 * The message channel is driven over LB as open-vm-tools' lib/message/message.c does: OPEN with the cookie flag,
 * SENDSIZE + SENDPAYLOAD 4 bytes at a time, RECVSIZE + RECVPAYLOAD + RECVSTATUS, CLOSE.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC 0x564D5868u
#define RPCI 0x49435052u
#define TCLO 0x4f4c4354u
#define COOKIE 0x80000000u

struct regs { uint32_t a, b, c, d, s, di; };

static struct regs bd(uint32_t cmd, uint32_t ebx, uint32_t edx, uint32_t esi, uint32_t edi) {
  struct regs r = {MAGIC, ebx, cmd, edx, esi, edi};
  __asm__ volatile("inl %%dx, %%eax" : "+a"(r.a), "+b"(r.b), "+c"(r.c), "+d"(r.d), "+S"(r.s), "+D"(r.di));
  return r;
}

struct chan { uint32_t id, hi, lo; };

static int ch_open(struct chan *ch, uint32_t proto) {
  struct regs r = bd(30, proto | COOKIE, 0x5658, 0, 0);
  if (!((r.c >> 16) & 1)) return 0;
  ch->id = r.d >> 16;
  ch->hi = r.s;
  ch->lo = r.di;
  return 1;
}

static struct regs ch_step(struct chan *ch, uint32_t type, uint32_t ebx) {
  return bd((type << 16) | 30, ebx, (ch->id << 16) | 0x5658, ch->hi, ch->lo);
}

static int ch_send(struct chan *ch, const char *msg, uint32_t len) {
  if (!((ch_step(ch, 1, len).c >> 16) & 1)) return 0;
  for (uint32_t i = 0; i < len; i += 4) {
    uint32_t w = 0;
    for (uint32_t k = 0; k < 4 && i + k < len; k++) w |= (uint32_t)(uint8_t)msg[i + k] << (8 * k);
    if (!((ch_step(ch, 2, w).c >> 16) & 1)) return 0;
  }
  return 1;
}

/* Receive into buf (NUL-terminated): the size, 0 when nothing waits, -1 on failure or a size that does not fit. */
static int ch_recv(struct chan *ch, char *buf, uint32_t cap) {
  struct regs r = ch_step(ch, 3, 0);
  if (!((r.c >> 16) & 1)) return -1;
  if (!((r.c >> 16) & 2)) return 0;
  uint32_t size = r.b;
  if (size >= cap) return -1;
  for (uint32_t i = 0; i < size; i += 4) {
    struct regs p = ch_step(ch, 4, 1);
    if (!((p.c >> 16) & 1)) return -1;
    for (uint32_t k = 0; k < 4 && i + k < size; k++) buf[i + k] = (char)((p.b >> (8 * k)) & 0xff);
  }
  buf[size] = 0;
  ch_step(ch, 5, 1);
  return (int)size;
}

static void ch_close(struct chan *ch) { ch_step(ch, 6, 0); }

static char reply[70000];

/* One RPCI exchange; the reply in `reply`, its length, or -1. */
static int rpc(const char *text) {
  struct chan ch;
  if (!ch_open(&ch, RPCI)) return -1;
  if (!ch_send(&ch, text, strlen(text))) return -1;
  int n = ch_recv(&ch, reply, sizeof reply);
  ch_close(&ch);
  return n;
}

static int failed;

/* PLANTED BUG: a host name longer than 31 bytes overflows `name` (and the return address). */
__attribute__((noinline)) static void greet(const char *value) {
  char name[32];
  strcpy(name, value);
  printf("name: %s\n", name);
}

static void do_overflow(int robust) {
  int n = rpc("info-get guestinfo.fuzz.name");
  if (n < 2) { failed = 1; return; }
  if (reply[0] != '1') return;
  if (robust) {
    char name[32];
    snprintf(name, sizeof name, "%s", reply + 2);
    printf("name: %s\n", name);
  } else greet(reply + 2);
}

/* PLANTED BUG: the host's message of the day is used as a format. */
__attribute__((noinline)) static void motd(const char *value) {
  printf(value);
  printf("\n");
}

static void do_format(int robust) {
  int n = rpc("info-get guestinfo.fuzz.motd");
  if (n < 2) { failed = 1; return; }
  if (reply[0] != '1') return;
  if (robust) printf("%s\n", reply + 2);
  else motd(reply + 2);
}

static void do_boundary(int robust) {
  for (int k = 0; k < 4; k++) {
    volatile uint32_t mhz = bd(1, 0, 0x5658, 0, 0).a;
    if (robust && (mhz == 0 || mhz > 1000000)) { printf("mhz: out of range\n"); continue; }
    /* PLANTED BUG: MHz 0 divides by zero. */
    printf("cycle: %u ps\n", 1000000u / mhz);
  }
}

/* The value of a `Set_Option NAME VALUE` command. */
static const char *option_value(const char *cmd, int robust) {
  const char *p = cmd + strlen("Set_Option");
  /* PLANTED BUG (not robust): a tab is seen as a separator but never skipped. */
  while (*p == ' ' || *p == '\t') if (robust || *p == ' ') p++;
  while (*p && *p != ' ' && *p != '\t') p++;
  while (*p == ' ' || *p == '\t') if (robust || *p == ' ') p++;
  return p;
}

static void do_tclo(int robust) {
  struct chan ch;
  if (!ch_open(&ch, TCLO)) { failed = 1; return; }
  char result[256] = "";
  for (int polls = 0; polls < 30; polls++) {
    if (!ch_send(&ch, result, strlen(result))) { failed = 1; return; }
    result[0] = 0;
    int n = ch_recv(&ch, reply, sizeof reply);
    if (n < 0) { failed = 1; return; }
    if (n == 0) { usleep(500); continue; }
    if (!strcmp(reply, "reset")) strcpy(result, "OK ATR toolbox");
    else if (!strncmp(reply, "Set_Option", 10)) snprintf(result, sizeof result, "OK %.200s", option_value(reply, robust));
    else if (!strcmp(reply, "ping") || !strcmp(reply, "Capabilities_Register")) strcpy(result, "OK ");
    else strcpy(result, "ERROR Unknown command");
  }
  ch_close(&ch);
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "all";
  int rpc_only = !strcmp(mode, "robust-rpc");
  int robust = rpc_only || !strcmp(mode, "robust");
  int all = robust || !strcmp(mode, "all");
  if (all || !strcmp(mode, "overflow")) do_overflow(robust);
  if (all || !strcmp(mode, "format")) do_format(robust);
  if (all || !strcmp(mode, "boundary")) do_boundary(robust);
  if ((all && !rpc_only) || !strcmp(mode, "hang")) do_tclo(robust);
  fflush(stdout);
  return failed;
}
