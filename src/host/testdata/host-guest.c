/*
 * A scripted guest for the `vmport/host` and control-socket tests (x86-64, built with gcc by the tests): it reads
 * one command per line on stdin, runs it with real backdoor instructions, prints one result line, and waits for
 * the next — so a test decides exactly when the guest acts, after the host did something.
 *
 *   rpc TEXT          one RPCI exchange over the LB message channel: "reply [TEXT]" or "rpc error N"
 *   tclo MS           answer TCLO commands for MS ms, as vmtoolsd's loop does: "tclo [COMMAND]" per command,
 *                     then "tclo done"; reset -> "OK ATR toolbox", ping -> "OK ", echo X -> "OK X", else ERROR
 *   mouse-enable      vmmouse READ_ID, then read the version word: "mouse id=3442554a"
 *   mouse-read MS     wait up to MS ms for a packet: "packet flags=F x=X y=Y z=Z" or "no packet"
 *   clip-get          the host's clipboard text (commands 6, 7): "host-clipboard [TEXT]" or "host-clipboard none"
 *   clip-set TEXT     send TEXT as the guest's selection (commands 8, 9): "clip-set done"
 *   devices           list removable devices (command 11): "device NAME enabled=E" per device, then "devices done"
 *   rpcs N TEXT       N RPCI exchanges of TEXT: "rpcs done"
 *   loop N            N GETVERSION calls: "ok=N"
 *   mark PATH         create the file PATH (a sign the host can see while its event loop is busy): "marked"
 *   exit N            exit with status N
 * The message channel is driven as open-vm-tools' lib/message/message.c drives it over LB: OPEN with the cookie
 * flag, SENDSIZE + SENDPAYLOAD 4 bytes at a time, RECVSIZE + RECVPAYLOAD + RECVSTATUS, CLOSE.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* Receive into buf: the size, 0 when nothing waits, -1 on failure. */
static int ch_recv(struct chan *ch, char *buf, uint32_t cap) {
  struct regs r = ch_step(ch, 3, 0);
  if (!((r.c >> 16) & 1)) return -1;
  if (!((r.c >> 16) & 2)) return 0;
  uint32_t size = r.b;
  if (size + 1 > cap) return -1;
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

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static char big[70000];

static void do_rpc(const char *text) {
  struct chan ch;
  if (!ch_open(&ch, RPCI)) { printf("rpc error 1\n"); return; }
  if (!ch_send(&ch, text, strlen(text))) { printf("rpc error 2\n"); return; }
  int n = ch_recv(&ch, big, sizeof big);
  ch_close(&ch);
  if (n < 0) printf("rpc error 3\n");
  else printf("reply [%s]\n", big);
}

static void do_tclo(long ms) {
  struct chan ch;
  if (!ch_open(&ch, TCLO)) { printf("tclo error open\n"); return; }
  char result[4200] = "";
  double end = now_ms() + ms;
  while (now_ms() < end) {
    if (!ch_send(&ch, result, strlen(result))) { printf("tclo error send\n"); return; }
    result[0] = 0;
    int n = ch_recv(&ch, big, sizeof big);
    if (n < 0) { printf("tclo error recv\n"); return; }
    if (n == 0) { usleep(5000); continue; }
    printf("tclo [%s]\n", big);
    if (!strcmp(big, "reset")) strcpy(result, "OK ATR toolbox");
    else if (!strcmp(big, "ping") || !strcmp(big, "Capabilities_Register")) strcpy(result, "OK ");
    else if (!strncmp(big, "echo ", 5)) snprintf(result, sizeof result, "OK %.4000s", big + 5);
    else strcpy(result, "ERROR Unknown command");
  }
  ch_close(&ch);
  printf("tclo done\n");
}

static void do_mouse_read(long ms) {
  double end = now_ms() + ms;
  for (;;) {
    struct regs st = bd(40, 0, 0x5658, 0, 0);
    if ((st.a >> 16) == 0xffff) { printf("mouse disabled\n"); return; }
    if ((st.a & 0xffff) >= 4) {
      struct regs p = bd(39, 4, 0x5658, 0, 0);
      printf("packet flags=%x x=%u y=%u z=%d\n", p.a, p.b, p.c, (int)p.d);
      return;
    }
    if (now_ms() >= end) { printf("no packet\n"); return; }
    usleep(5000);
  }
}

static void do_clip_get(void) {
  struct regs r = bd(6, 0, 0x5658, 0, 0);
  if (r.a == 0xffffffffu) { printf("host-clipboard none\n"); return; }
  uint32_t len = r.a;
  if (len >= sizeof big) len = sizeof big - 1;
  for (uint32_t i = 0; i < len; i += 4) {
    uint32_t w = bd(7, 0, 0x5658, 0, 0).a;
    for (uint32_t k = 0; k < 4 && i + k < len; k++) big[i + k] = (char)((w >> (8 * k)) & 0xff);
  }
  big[len] = 0;
  printf("host-clipboard [%s]\n", big);
}

static void do_clip_set(const char *text) {
  uint32_t len = strlen(text);
  bd(8, len, 0x5658, 0, 0);
  for (uint32_t i = 0; i < len; i += 4) {
    uint32_t w = 0;
    for (uint32_t k = 0; k < 4 && i + k < len; k++) w |= (uint32_t)(uint8_t)text[i + k] << (8 * k);
    bd(9, w, 0x5658, 0, 0);
  }
  printf("clip-set done\n");
}

static void do_devices(void) {
  for (uint32_t id = 0; id < 50; id++) {
    uint8_t info[40];
    for (uint32_t off = 0; off < 40; off += 4) {
      struct regs r = bd(11, (id << 16) | off, 0x5658, 0, 0);
      if (r.a == 0) { printf("devices done\n"); return; }
      memcpy(info + off, &r.b, 4);
    }
    info[31] = 0;
    printf("device %s enabled=%d\n", (char *)info, info[36]);
  }
  printf("devices done\n");
}

int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  static char line[70000];
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = 0;
    char *arg = strchr(line, ' ');
    if (arg) *arg++ = 0;
    else arg = line + strlen(line);
    if (!strcmp(line, "rpc")) do_rpc(arg);
    else if (!strcmp(line, "tclo")) do_tclo(atol(arg));
    else if (!strcmp(line, "mouse-enable")) {
      bd(41, 0x45414552, 0x5658, 0, 0);
      struct regs st = bd(40, 0, 0x5658, 0, 0);
      uint32_t id = (st.a & 0xffff) >= 1 ? bd(39, 1, 0x5658, 0, 0).a : 0;
      printf("mouse id=%x\n", id);
    } else if (!strcmp(line, "mouse-read")) do_mouse_read(atol(arg));
    else if (!strcmp(line, "clip-get")) do_clip_get();
    else if (!strcmp(line, "clip-set")) do_clip_set(arg);
    else if (!strcmp(line, "devices")) do_devices();
    else if (!strcmp(line, "rpcs")) {
      long n = atol(arg);
      char *text = strchr(arg, ' ');
      text = text ? text + 1 : arg + strlen(arg);
      struct chan ch;
      for (long i = 0; i < n; i++) {
        if (ch_open(&ch, RPCI) && ch_send(&ch, text, strlen(text))) ch_recv(&ch, big, sizeof big);
        ch_close(&ch);
      }
      printf("rpcs done\n");
    } else if (!strcmp(line, "mark")) {
      FILE *f = fopen(arg, "w");
      if (f) fclose(f);
      printf("marked\n");
    } else if (!strcmp(line, "loop")) {
      long n = atol(arg), ok = 0;
      for (long i = 0; i < n; i++) ok += bd(10, 0, 0x5658, 0, 0).b == MAGIC;
      printf("ok=%ld\n", ok);
    } else if (!strcmp(line, "exit")) return atoi(arg);
    else printf("unknown [%s]\n", line);
  }
  return 0;
}
