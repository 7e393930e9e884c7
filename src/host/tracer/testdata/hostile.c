/*
 * Hostile guests for `vmport run`: each mode does one thing a program under vmport could do to the tracer (map
 * devices, FIFOs or shared writable code; clone untraced; ptrace the tracer; flood the state; reply with terminal
 * escapes) and then shows that the backdoor still answers. Built by the tests with gcc (x86-64).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAGIC 0x564D5868u

static uint32_t bdoor(uint32_t cmd, uint32_t *ebx, uint32_t *ecx, uint32_t *edx, uint32_t *esi, uint32_t *edi) {
  uint32_t a = MAGIC, b = *ebx, c = cmd, d = *edx, s = *esi, di = *edi;
  __asm__ volatile("inl %%dx, %%eax" : "+a"(a), "+b"(b), "+c"(c), "+d"(d), "+S"(s), "+D"(di));
  *ebx = b; *ecx = c; *edx = d; *esi = s; *edi = di;
  return a;
}

static uint32_t getversion(void) {
  uint32_t b = 0, c, d = 0x5658, s = 0, di = 0;
  return bdoor(10, &b, &c, &d, &s, &di);
}

/* ---- the message channel over the low-bandwidth port (4 bytes per call), for the TCLO loop ---- */
static uint32_t ch, ck_hi, ck_lo;
static uint32_t msg(uint32_t type, uint32_t ebx, uint32_t *ebx_out) {
  uint32_t b = ebx, c = (type << 16) | 30, d = (ch << 16) | 0x5658, s = ck_hi, di = ck_lo;
  bdoor(c, &b, &c, &d, &s, &di);
  if (type == 0) { ck_hi = s; ck_lo = di; ch = d >> 16; }
  if (ebx_out) *ebx_out = b;
  return c;
}
static int chan_open(uint32_t proto) { return (msg(0, proto | 0x80000000u, 0) >> 16) & 1; }
static int chan_send(const char *m, uint32_t n) {
  if (!((msg(1, n, 0) >> 16) & 1)) return 0;
  for (uint32_t i = 0; i < n; i += 4) {
    uint32_t w = 0;
    memcpy(&w, m + i, n - i < 4 ? n - i : 4);
    if (!((msg(2, w, 0) >> 16) & 1)) return 0;
  }
  return 1;
}
/* Receive into buf (NUL-terminated); returns the size, 0 when nothing is waiting, -1 on error. */
static int chan_recv(char *buf, uint32_t cap) {
  uint32_t size;
  uint32_t st = msg(3, 0, &size);
  if (!((st >> 16) & 1)) return -1;
  if (!((st >> 16) & 2)) return 0;
  if (size >= cap) return -1;
  for (uint32_t i = 0; i < size; i += 4) {
    uint32_t w;
    if (!((msg(4, 1, &w) >> 16) & 1)) return -1;
    memcpy(buf + i, &w, size - i < 4 ? size - i : 4);
  }
  buf[size] = 0;
  msg(5, 1, 0);
  return (int)size;
}

/* TCLO loop: answers every command with a reply full of terminal escapes and a forged "vmport:" line. */
static int tclo(int commands) {
  static const char evil[] = "OK \x1b]0;pwned\x07\x1b[2J\nvmport: forged line\r\x9b" "31m";
  char buf[4096];
  if (!chan_open(0x4f4c4354)) { printf("tclo open failed\n"); return 1; }
  const char *reply = "";
  uint32_t rlen = 0;
  for (int got = 0, polls = 0; got < commands && polls < 2000; polls++) {
    if (!chan_send(reply, rlen)) { printf("tclo send failed\n"); return 1; }
    int n = chan_recv(buf, sizeof buf);
    if (n < 0) { printf("tclo recv failed\n"); return 1; }
    if (n == 0) { reply = ""; rlen = 0; usleep(10000); continue; }
    if (strncmp(buf, "reset", 5) == 0) { reply = "OK ATR toolbox"; rlen = strlen(reply); continue; }
    reply = evil; rlen = sizeof evil - 1;
    got++;
  }
  chan_send(reply, rlen); /* deliver the last result */
  chan_recv(buf, sizeof buf);
  printf("tclo done\n");
  return 0;
}

static void settle(void) { usleep(300000); } /* lets a watcher read vmport's VmHWM after the attack */

/* Row 2: an executable mapping of a character device that never ends. */
static int devzero(void) {
  int fd = open("/dev/zero", O_RDONLY);
  void *p = mmap(0, 64 << 20, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
  printf("devzero mapped=%d getversion=%u\n", p != MAP_FAILED, getversion());
  settle();
  return 0;
}

static void *map_exec(const char *path, int flags, int oflags) {
  int fd = open(path, oflags);
  if (fd < 0) return MAP_FAILED;
  struct stat st;
  fstat(fd, &st);
  int prot = PROT_READ | PROT_EXEC | ((flags & MAP_SHARED) && (oflags & O_RDWR) ? PROT_WRITE : 0);
  void *p = mmap(0, st.st_size, prot, flags, fd, 0);
  close(fd);
  return p;
}

/* Row 3: map A, unlink A, put a FIFO at A, map B. */
static int fifo(const char *a, const char *b) {
  void *pa = map_exec(a, MAP_PRIVATE, O_RDONLY);
  unlink(a);
  if (mkfifo(a, 0600) != 0) { printf("mkfifo failed\n"); return 1; }
  void *pb = map_exec(b, MAP_PRIVATE, O_RDONLY);
  printf("fifo a=%d b=%d getversion=%u\n", pa != MAP_FAILED, pb != MAP_FAILED, getversion());
  return 0;
}

/* Row 4: a library holding `cpuid`, mapped shared and writable. */
static int shared(const char *lib) {
  void *p = map_exec(lib, MAP_SHARED, O_RDWR);
  printf("shared mapped=%d getversion=%u\n", p != MAP_FAILED, getversion());
  return 0;
}

/* Row 6: change the GUI options (SETGUIOPTIONS, command 14), then idle until killed. */
static int gui(uint32_t bits) {
  uint32_t b = bits, c, d = 0x5658, s = 0, di = 0;
  bdoor(14, &b, &c, &d, &s, &di);
  printf("gui set %x\n", bits);
  for (;;) pause();
  return 0;
}

/* Row 8: clone(CLONE_UNTRACED) and clone3 are refused; forked children are traced and die with vmport. */
static int untraced(int children) {
  long r = syscall(SYS_clone, CLONE_UNTRACED | SIGCHLD, 0, 0, 0, 0);
  if (r == 0) { sleep(300); _exit(0); }
  int e1 = r < 0 ? errno : 0;
  if (r > 0) printf("untraced child pid=%ld\n", r);
#ifdef SYS_clone3
  long r3 = syscall(SYS_clone3, (void *)0, 0);
  int e3 = r3 < 0 ? errno : 0;
#else
  int e3 = ENOSYS;
#endif
  printf("clone_untraced errno=%d clone3 errno=%d\n", e1, e3);
  for (int i = 0; i < children; i++) {
    pid_t p = fork();
    if (p == 0) { sleep(300); _exit(0); }
    printf("child pid=%d\n", p);
  }
  printf("getversion=%u\n", getversion());
  for (;;) pause();
  return 0;
}

/* Row 9: try to trace vmport, a sibling thread, and to be traced. */
static volatile pid_t sibling;
static void *idle(void *arg) { (void)arg; sibling = (pid_t)syscall(SYS_gettid); for (;;) pause(); return 0; }
static int tracer_attack(void) {
  pthread_t t;
  pthread_create(&t, 0, idle, 0);
  while (sibling == 0) usleep(1000);
  errno = 0;
  long a = ptrace(PTRACE_SEIZE, getppid(), 0, 0);
  int ea = errno;
  errno = 0;
  long b = ptrace(PTRACE_SEIZE, sibling, 0, 0);
  int eb = errno;
  errno = 0;
  long c = ptrace(PTRACE_TRACEME, 0, 0, 0);
  int ec = errno;
  printf("seize_parent=%ld/%d seize_thread=%ld/%d traceme=%ld/%d getversion=%u\n", a, ea, b, eb, c, ec, getversion());
  return 0;
}

/* Row 14: N executable mappings of one file, then unmapped ("native": no backdoor call, to time it outside vmport). */
static int mmaps(long n, const char *file, int native) {
  void **p = calloc(n, sizeof *p);
  int fd = open(file, O_RDONLY);
  if (fd < 0 || !p) { printf("open failed\n"); return 1; }
  struct stat st;
  fstat(fd, &st);
  long ok = 0;
  for (long i = 0; i < n; i++) {
    p[i] = mmap(0, st.st_size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    ok += p[i] != MAP_FAILED;
  }
  for (long i = 0; i < n; i++) if (p[i] != MAP_FAILED) munmap(p[i], st.st_size);
  if (native) printf("mmaps %ld\n", ok);
  else printf("mmaps %ld getversion=%u\n", ok, getversion());
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, 0, _IONBF, 0);
  const char *mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "devzero")) return devzero();
  if (!strcmp(mode, "fifo") && argc > 3) return fifo(argv[2], argv[3]);
  if (!strcmp(mode, "shared") && argc > 2) return shared(argv[2]);
  if (!strcmp(mode, "gui") && argc > 2) return gui((uint32_t)strtoul(argv[2], 0, 0));
  if (!strcmp(mode, "untraced")) return untraced(argc > 2 ? atoi(argv[2]) : 0);
  if (!strcmp(mode, "ptrace")) return tracer_attack();
  if (!strcmp(mode, "mmaps") && argc > 3) return mmaps(atol(argv[2]), argv[3], argc > 4 && !strcmp(argv[4], "native"));
  if (!strcmp(mode, "tclo")) return tclo(argc > 2 ? atoi(argv[2]) : 1);
  if (!strcmp(mode, "getversion")) { printf("getversion=%u\n", getversion()); return 0; }
  fprintf(stderr, "usage: hostile devzero | fifo A B | shared LIB | gui BITS | untraced [N] | ptrace | mmaps N FILE [native] | tclo [N]\n");
  return 2;
}
