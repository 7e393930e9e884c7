/*
 * Ring-3 test program for `vmport run`: each mode exercises one behaviour of the trap engine with real
 * instructions and prints what it saw. Built by the tests with gcc (x86-64, and -m32 for i386).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sched.h>

#define MAGIC 0x564D5868u
typedef unsigned long ureg; /* 64 bits on x86-64, 32 on i386 */

static sigjmp_buf jb;
static volatile int last_sig;
static void on_sig(int sig) { last_sig = sig; siglongjmp(jb, 1); }
static void catch_sig(int sig) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sig;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_NODEFER;
  sigaction(sig, &sa, 0);
}

static uint32_t getversion(uint32_t *ebx, uint32_t *ecx) {
  uint32_t a = MAGIC, b = ~MAGIC, c = 10, d = 0x5658;
  __asm__ volatile("inl %%dx, %%eax" : "+a"(a), "+b"(b), "+c"(c), "+d"(d));
  *ebx = b;
  *ecx = c;
  return a;
}

static int forms(void) {
  uint32_t b, c;
  uint32_t a = getversion(&b, &c);
  printf("in32 eax=%x ebx=%x ecx=%x\n", a, b, c);
  /* in ax,dx: only AX changes */
  ureg ra = MAGIC, rb = 0, rc = 10, rd = 0x5658;
  __asm__ volatile("inw %%dx, %%ax" : "+a"(ra), "+b"(rb), "+c"(rc), "+d"(rd));
  printf("in16 eax=%lx ebx=%lx\n", ra, rb);
  ra = MAGIC; rb = 0; rc = 10; rd = 0x5658;
  __asm__ volatile("inb %%dx, %%al" : "+a"(ra), "+b"(rb), "+c"(rc), "+d"(rd));
  printf("in8 eax=%lx ebx=%lx\n", ra, rb);
  /* out dx,eax runs the command and leaves EAX */
  ra = MAGIC; rb = 0; rc = 10; rd = 0x5658;
  __asm__ volatile("outl %%eax, %%dx" : "+a"(ra), "+b"(rb), "+c"(rc), "+d"(rd));
  printf("out32 eax=%lx ebx=%lx ecx=%lx\n", ra, rb, rc);
#ifdef __x86_64__
  /* upper halves: RBX/RCX keep theirs, RAX is zero-extended by a 4-byte IN */
  ra = 0xAAAAAAAA00000000ul | MAGIC; rb = 0xBBBBBBBB00000000ul; rc = 0xCCCCCCCC0000000Aul; rd = 0x5658;
  __asm__ volatile("inl %%dx, %%eax" : "+a"(ra), "+b"(rb), "+c"(rc), "+d"(rd));
  printf("upper rax=%lx rbx=%lx rcx=%lx\n", ra, rb, rc);
#endif
  /* out dx,al and out dx,ax run the command too, EAX untouched */
  ra = MAGIC; rb = 0; rc = 10; rd = 0x5658;
  __asm__ volatile("outb %%al, %%dx" : "+a"(ra), "+b"(rb), "+c"(rc), "+d"(rd));
  printf("out8 eax=%lx ebx=%lx\n", ra, rb);
  ra = MAGIC; rb = 0; rc = 10; rd = 0x5658;
  __asm__ volatile("outw %%ax, %%dx" : "+a"(ra), "+b"(rb), "+c"(rc), "+d"(rd));
  printf("out16 eax=%lx ebx=%lx\n", ra, rb);
  /* RDPMC pseudo-counter 0x10001 (elapsed real ns) works at ring 3 */
  uint32_t lo, hi;
  __asm__ volatile("rdpmc" : "=a"(lo), "=d"(hi) : "c"(0x10001));
  printf("rdpmc elapsed_ok=%d\n", (((uint64_t)hi << 32) | lo) > 0);
  /* bad magic: all-ones, nothing else */
  ra = 0x12345678; rb = 5; rc = 10; rd = 0x5658;
  __asm__ volatile("inl %%dx, %%eax" : "+a"(ra), "+b"(rb), "+c"(rc), "+d"(rd));
  printf("badmagic eax=%lx ebx=%lx\n", ra & 0xfffffffful, rb);
  /* GETTIMEFULL leaves EAX = magic */
  ra = MAGIC; rb = 0; rc = 46; rd = 0x5658;
  ureg rs = 0, rdi = 0;
  __asm__ volatile("inl %%dx, %%eax" : "+a"(ra), "+b"(rb), "+c"(rc), "+d"(rd), "+S"(rs), "+D"(rdi));
  printf("timefull eax=%lx secs_ok=%d\n", ra & 0xfffffffful, (rd & 0xfffffffful) > 1700000000ul);
  return 0;
}

static int nonbackdoor(void) {
  catch_sig(SIGSEGV);
  if (sigsetjmp(jb, 1) == 0) {
    __asm__ volatile("inb $0x80, %%al" ::: "eax");
    printf("no fault\n");
  } else printf("port80 sig=%d\n", last_sig);
  if (sigsetjmp(jb, 1) == 0) {
    uint32_t a = MAGIC, d = 0x1234;
    __asm__ volatile("inl %%dx, %%eax" : "+a"(a) : "d"(d));
    printf("no fault\n");
  } else printf("port1234 sig=%d\n", last_sig);
  return 0;
}

static int syscalls(void) {
  /* iopl/ioperm report success without granting anything: the access still traps and is emulated */
  long r1 = syscall(SYS_iopl, 3), r2 = syscall(SYS_ioperm, 0x5658, 2, 1);
  uint32_t b, c;
  uint32_t a = getversion(&b, &c);
  int s = socket(40 /* AF_VSOCK */, SOCK_DGRAM, 0);
  int e = errno;
  int inet = socket(AF_INET, SOCK_DGRAM, 0);
  printf("iopl=%ld ioperm=%ld getversion=%u vsock=%d errno=%d inet_ok=%d\n", r1, r2, a, s, e, inet >= 0);
  catch_sig(SIGSEGV);
  if (sigsetjmp(jb, 1) == 0) {
    __asm__ volatile("inb $0x80, %%al" ::: "eax");
    printf("port80 reached hardware\n");
  } else printf("port80 still faults sig=%d\n", last_sig);
  return 0;
}

static void *worker(void *arg) {
  long n = (long)arg, ok = 0;
  for (long i = 0; i < n; i++) {
    uint32_t b, c;
    if (getversion(&b, &c) == 6 && b == MAGIC) ok++;
  }
  return (void *)ok;
}

/* A thread that computes between backdoor calls: `work` iterations of a dependent multiply chain per call. */
static long work_per_call;
static volatile unsigned long work_sink;
static void *busy_worker(void *arg) {
  long n = (long)arg, ok = 0;
  for (long i = 0; i < n; i++) {
    unsigned long x = (unsigned long)i | 1;
    for (long k = 0; k < work_per_call; k++) x = x * 6364136223846793005ul + 1442695040888963407ul;
    work_sink = x;
    uint32_t b, c;
    if (getversion(&b, &c) == 6 && b == MAGIC) ok++;
  }
  return (void *)ok;
}

static int threads(int nthreads, long n, long work) {
  pthread_t t[16];
  long total = 0;
  if (nthreads > 16) nthreads = 16;
  work_per_call = work;
  for (int i = 0; i < nthreads; i++) pthread_create(&t[i], 0, work > 0 ? busy_worker : worker, (void *)n);
  for (int i = 0; i < nthreads; i++) {
    void *r;
    pthread_join(t[i], &r);
    total += (long)r;
  }
  printf("threads ok=%ld\n", total);
  return 0;
}

static int forked(long n) {
  pid_t p = fork();
  long ok = (long)worker((void *)n);
  if (p == 0) _exit(ok == n ? 0 : 1);
  int st;
  waitpid(p, &st, 0);
  printf("fork parent=%ld child_exit=%d\n", ok, WEXITSTATUS(st));
  return 0;
}

static int handler(void) {
  catch_sig(SIGSEGV);
  long ok = (long)worker((void *)1000);
  if (sigsetjmp(jb, 1) == 0) {
    volatile int *p = 0;
    *p = 1;
  } else printf("handler ok=%ld null_sig=%d\n", ok, last_sig);
  return 42;
}

/* Run code bytes placed so that they straddle a page boundary; the code ends with RET. */
static int straddle(void) {
  uint8_t *m = mmap(0, 8192, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const uint8_t code[] = {0x66, 0xed, 0xc3}; /* in ax,dx ; ret */
  uint8_t *at = m + 4096 - 1;
  memcpy(at, code, sizeof code);
  ureg a = MAGIC, b = 0, c = 10, d = 0x5658;
  __asm__ volatile("call *%4" : "+a"(a), "+b"(b), "+c"(c), "+d"(d) : "r"(at) : "memory");
  printf("straddle eax=%lx ebx=%lx\n", a & 0xfffffffful, b);
  return 0;
}

static int faults(void) {
  uint8_t *m = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  catch_sig(SIGILL);
  catch_sig(SIGSEGV);
  const uint8_t locked[] = {0xf0, 0xed, 0xc3}; /* lock in eax,dx: #UD */
  memcpy(m, locked, sizeof locked);
  if (sigsetjmp(jb, 1) == 0) {
    __asm__ volatile("call *%0" ::"r"(m), "a"(MAGIC), "d"(0x5658) : "memory", "ebx", "ecx");
    printf("lock no fault\n");
  } else printf("lock sig=%d\n", last_sig);
  memset(m, 0x66, 15); /* 15 × 66 + ed = 16 bytes: #GP, not emulated */
  m[15] = 0xed;
  m[16] = 0xc3;
  if (sigsetjmp(jb, 1) == 0) {
    __asm__ volatile("call *%0" ::"r"(m), "a"(MAGIC), "d"(0x5658) : "memory", "ebx", "ecx");
    printf("long no fault\n");
  } else printf("long sig=%d\n", last_sig);
  return 0;
}

/* Every general register (and the arithmetic flags) around one backdoor instruction: what the thread really gets
   back, upper halves included. Registers are loaded from regs_in and stored to regs_out by the asm itself, so
   nothing the compiler does in between can hide a difference. Order: rax rbx rcx rdx rsi rdi rbp, then r8-r15. */
#ifdef __x86_64__
#define NREGS 15
#define LOADREGS "mov 0+%[in],%%rax; mov 8+%[in],%%rbx; mov 16+%[in],%%rcx; mov 24+%[in],%%rdx; mov 32+%[in],%%rsi; mov 40+%[in],%%rdi; mov 48+%[in],%%rbp; mov 56+%[in],%%r8; mov 64+%[in],%%r9; mov 72+%[in],%%r10; mov 80+%[in],%%r11; mov 88+%[in],%%r12; mov 96+%[in],%%r13; mov 104+%[in],%%r14; mov 112+%[in],%%r15;"
#define STOREREGS "mov %%rax,0+%[out]; mov %%rbx,8+%[out]; mov %%rcx,16+%[out]; mov %%rdx,24+%[out]; mov %%rsi,32+%[out]; mov %%rdi,40+%[out]; mov %%rbp,48+%[out]; mov %%r8,56+%[out]; mov %%r9,64+%[out]; mov %%r10,72+%[out]; mov %%r11,80+%[out]; mov %%r12,88+%[out]; mov %%r13,96+%[out]; mov %%r14,104+%[out]; mov %%r15,112+%[out]; pushf; pop %%rax; mov %%rax,%[fl];"
#define ALLREGS(insn) __asm__ volatile("push %%rbp;" LOADREGS insn ";" STOREREGS "pop %%rbp" : [out] "=m"(regs_out), [fl] "=m"(flags_out) : [in] "m"(regs_in) : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "memory", "cc")
#else
#define NREGS 7
#define ALLREGS(insn) __asm__ volatile("push %%ebp; mov 0+%[in],%%eax; mov 4+%[in],%%ebx; mov 8+%[in],%%ecx; mov 12+%[in],%%edx; mov 16+%[in],%%esi; mov 20+%[in],%%edi; mov 24+%[in],%%ebp;" insn "; mov %%eax,0+%[out]; mov %%ebx,4+%[out]; mov %%ecx,8+%[out]; mov %%edx,12+%[out]; mov %%esi,16+%[out]; mov %%edi,20+%[out]; mov %%ebp,24+%[out]; pushf; pop %%eax; mov %%eax,%[fl]; pop %%ebp" : [out] "=m"(regs_out), [fl] "=m"(flags_out) : [in] "m"(regs_in) : "eax", "ebx", "ecx", "edx", "esi", "edi", "memory", "cc")
#endif
static ureg regs_in[NREGS], regs_out[NREGS], flags_out;
static void allregs_case(const char *name, uint32_t cmd, uint32_t magic, int which) {
  for (int i = 0; i < NREGS; i++) regs_in[i] = (ureg)0x0101010101010101ull * (ureg)(i + 1);
  regs_in[0] = ((ureg)0xA0A0A0A0A0A0A0A0ull & ~(ureg)0xffffffffu) | magic;
  regs_in[2] = ((ureg)0xC0C0C0C0C0C0C0C0ull & ~(ureg)0xffffffffu) | cmd;
  regs_in[3] = ((ureg)0xD0D0D0D0D0D0D0D0ull & ~(ureg)0xffffffffu) | 0x5658;
  switch (which) {
    case 0: ALLREGS("inl %%dx,%%eax"); break;
    case 1: ALLREGS("inw %%dx,%%ax"); break;
    case 2: ALLREGS("inb %%dx,%%al"); break;
    default: ALLREGS("outl %%eax,%%dx"); break;
  }
  printf("%s:", name);
  for (int i = 0; i < NREGS; i++) printf(" %lx", regs_out[i]);
  printf(" fl=%lx\n", flags_out & 0x8d5ul); /* CF PF AF ZF SF OF */
}
static int allregs(void) {
  static const struct { const char *name; uint32_t cmd; int which; } cases[] = {
    {"getversion-in32", 10, 0}, {"getversion-in16", 10, 1}, {"getversion-in8", 10, 2}, {"getversion-out32", 10, 3},
    {"mhz", 1, 0}, {"hwversion", 17, 0}, {"uuid", 19, 0}, {"memsize", 20, 0}, {"buildnum", 100, 0}, {"unknown", 0xfff, 0},
  };
  for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) allregs_case(cases[i].name, cases[i].cmd, MAGIC, cases[i].which);
  allregs_case("badmagic", 10, 0x12345678, 0);
  return 0;
}

/* CPU affinity as the program sees it under vmport's placement: its own after backdoor calls, a forked child's, and a
   thread that set its own. */
static int cpus_of_self(void) {
  cpu_set_t s;
  CPU_ZERO(&s);
  sched_getaffinity(0, sizeof s, &s);
  return CPU_COUNT(&s);
}
static volatile int own_cpu = -1, own_count = -1, own_ok = 0;
static void *own_affinity(void *arg) {
  int cpu = (int)(long)arg;
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  sched_setaffinity(0, sizeof s, &s);
  own_ok = (long)worker((void *)200) == 200;
  CPU_ZERO(&s);
  sched_getaffinity(0, sizeof s, &s);
  own_count = CPU_COUNT(&s);
  own_cpu = CPU_ISSET(cpu, &s) ? cpu : -2;
  return 0;
}
static int affinity(void) {
  cpu_set_t start;
  CPU_ZERO(&start);
  sched_getaffinity(0, sizeof start, &start);
  int last = -1;
  for (int c = 0; c < CPU_SETSIZE; c++) if (CPU_ISSET(c, &start)) last = c;
  printf("start_cpus=%d\n", CPU_COUNT(&start));
  long ok = (long)worker((void *)200);
  printf("parent ok=%ld cpus=%d\n", ok, cpus_of_self());
  pid_t p = fork();
  if (p == 0) {
    printf("child cpus=%d\n", cpus_of_self());
    _exit(0);
  }
  int st;
  waitpid(p, &st, 0);
  pthread_t t;
  pthread_create(&t, 0, own_affinity, (void *)(long)last);
  pthread_join(t, 0);
  printf("own ok=%d cpus=%d cpu_kept=%d\n", own_ok, own_count, own_cpu == last);
  return 0;
}

/* Threads, forks and signals all at once: every thread and child makes backdoor calls while signals fly between
   threads, a 1 ms interval timer fires, and children exit (SIGCHLD). */
static volatile long usr1_count, alrm_count, chld_count;
static void on_usr1(int s) { (void)s; __atomic_add_fetch(&usr1_count, 1, __ATOMIC_RELAXED); }
static void on_alrm(int s) { (void)s; __atomic_add_fetch(&alrm_count, 1, __ATOMIC_RELAXED); }
static void on_chld(int s) { (void)s; __atomic_add_fetch(&chld_count, 1, __ATOMIC_RELAXED); }
static pthread_t stress_threads[4];
static long stress_n;
static pthread_barrier_t stress_start; /* every thread id is stored before any thread signals another */
static void *stress_worker(void *arg) {
  long me = (long)arg, ok = 0;
  pthread_barrier_wait(&stress_start);
  for (long i = 0; i < stress_n; i++) {
    uint32_t b, c;
    if (getversion(&b, &c) == 6 && b == MAGIC) ok++;
    if ((i & 15) == 0) pthread_kill(stress_threads[(me + 1) % 4], SIGUSR1);
  }
  return (void *)ok;
}
static int stress(long n) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_flags = SA_RESTART;
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, 0);
  sa.sa_handler = on_alrm;
  sigaction(SIGALRM, &sa, 0);
  sa.sa_handler = on_chld;
  sigaction(SIGCHLD, &sa, 0);
  struct itimerval it = {{0, 1000}, {0, 1000}};
  setitimer(ITIMER_REAL, &it, 0);
  stress_n = n;
  pthread_barrier_init(&stress_start, 0, 4);
  stress_threads[0] = pthread_self();
  for (long i = 1; i < 4; i++) pthread_create(&stress_threads[i], 0, stress_worker, (void *)i);
  pid_t kids[2];
  for (int k = 0; k < 2; k++) {
    kids[k] = fork();
    if (kids[k] == 0) {
      struct itimerval off = {{0, 0}, {0, 0}};
      setitimer(ITIMER_REAL, &off, 0);
      long ok = 0;
      for (long i = 0; i < n; i++) {
        uint32_t b, c;
        if (getversion(&b, &c) == 6 && b == MAGIC) ok++;
      }
      _exit(ok == n ? 0 : 1);
    }
  }
  long total = (long)stress_worker((void *)0);
  for (int i = 1; i < 4; i++) {
    void *r;
    pthread_join(stress_threads[i], &r);
    total += (long)r;
  }
  int kids_ok = 0;
  for (int k = 0; k < 2; k++) {
    int st;
    while (waitpid(kids[k], &st, 0) < 0 && errno == EINTR) {}
    kids_ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, 0);
  printf("stress ok=%ld kids_ok=%d usr1=%d alrm=%d chld=%d\n", total, kids_ok, usr1_count > 0, alrm_count > 0, chld_count > 0);
  return 0;
}

/* The message channel over HB, as open-vm-tools does it: one RPCI exchange. */
static uint32_t cookie_hi, cookie_lo, chan;
static uint32_t lb(uint32_t type, uint32_t ebx, uint32_t *ebx_out, uint32_t *edx_out) {
  uint32_t a = MAGIC, b = ebx, c = (type << 16) | 30, d = (chan << 16) | 0x5658, s = cookie_hi, di = cookie_lo;
  __asm__ volatile("inl %%dx, %%eax" : "+a"(a), "+b"(b), "+c"(c), "+d"(d), "+S"(s), "+D"(di));
  if (type == 0) { cookie_hi = s; cookie_lo = di; chan = d >> 16; }
  if (ebx_out) *ebx_out = b;
  if (edx_out) *edx_out = d;
  return c;
}
/* EBP carries a cookie on HB calls; it is loaded from a static so the load does not depend on a stack-relative
   address that the push just moved (i386 builds address locals through ESP). Build i386 with -fno-pie. */
static ureg hb_bp;
static int rpc(const char *msg, char *reply, size_t cap) {
  uint32_t size, edx;
  if (!((lb(0, 0xC9435052, 0, 0) >> 16) & 1)) return -1;
  uint32_t st = lb(1, strlen(msg), 0, 0);
  if (!((st >> 16) & 0x80)) return -2;
#ifdef __x86_64__
  ureg a = MAGIC, b = 0x10000, c = strlen(msg), d = (chan << 16) | 0x5659, s = (ureg)msg, di = cookie_lo;
  hb_bp = cookie_hi;
  __asm__ volatile("push %%rbp; mov %6, %%rbp; cld; rep outsb; pop %%rbp" : "+a"(a), "+b"(b), "+c"(c), "+d"(d), "+S"(s), "+D"(di) : "m"(hb_bp) : "memory");
#else
  ureg a = MAGIC, b = 0x10000, c = strlen(msg), d = (chan << 16) | 0x5659, s = (ureg)msg, di = cookie_lo;
  hb_bp = cookie_hi;
  __asm__ volatile("push %%ebp; mov %6, %%ebp; cld; rep outsb; pop %%ebp" : "+a"(a), "+b"(b), "+c"(c), "+d"(d), "+S"(s), "+D"(di) : "m"(hb_bp) : "memory");
#endif
  if (b != 0x10000) return -3;
  st = lb(3, 0, &size, &edx);
  if (!((st >> 16) & 2) || size >= cap) return -4;
  a = MAGIC; b = 0x10000; c = size; d = (chan << 16) | 0x5659; s = cookie_hi; di = (ureg)reply;
  hb_bp = cookie_lo;
#ifdef __x86_64__
  __asm__ volatile("push %%rbp; mov %6, %%rbp; cld; rep insb; pop %%rbp" : "+a"(a), "+b"(b), "+c"(c), "+d"(d), "+S"(s), "+D"(di) : "m"(hb_bp) : "memory");
#else
  __asm__ volatile("push %%ebp; mov %6, %%ebp; cld; rep insb; pop %%ebp" : "+a"(a), "+b"(b), "+c"(c), "+d"(d), "+S"(s), "+D"(di) : "m"(hb_bp) : "memory");
#endif
  if (b != 0x10000) return -5;
  reply[size] = 0;
  lb(5, 1, 0, 0);
  lb(6, 0, 0, 0);
  return (int)size;
}

static int hb(const char *cmd) {
  char reply[70000];
  int n = rpc(cmd, reply, sizeof reply);
  if (n < 0) { printf("rpc error %d\n", n); return 1; }
  printf("reply [%s]\n", reply);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, 0, _IONBF, 0);
  const char *mode = argc > 1 ? argv[1] : "forms";
  if (!strcmp(mode, "forms")) return forms();
  if (!strcmp(mode, "allregs")) return allregs();
  if (!strcmp(mode, "affinity")) return affinity();
  if (!strcmp(mode, "stress")) return stress(argc > 2 ? atol(argv[2]) : 2000);
  if (!strcmp(mode, "nonbackdoor")) return nonbackdoor();
  if (!strcmp(mode, "syscalls")) return syscalls();
  if (!strcmp(mode, "rdpmcbad")) { uint32_t lo, hi; catch_sig(SIGSEGV); if (sigsetjmp(jb, 1) == 0) { __asm__ volatile("rdpmc" : "=a"(lo), "=d"(hi) : "c"(0xfff)); printf("no fault\n"); } else printf("rdpmc0xfff sig=%d\n", last_sig); return 0; }
  if (!strcmp(mode, "sleep")) { sleep(atoi(argv[2])); return 0; }
  if (!strcmp(mode, "threads")) return threads(argc > 2 ? atoi(argv[2]) : 4, argc > 3 ? atol(argv[3]) : 2000, argc > 4 ? atol(argv[4]) : 0);
  if (!strcmp(mode, "fork")) return forked(argc > 2 ? atol(argv[2]) : 2000);
  if (!strcmp(mode, "handler")) return handler();
  if (!strcmp(mode, "straddle")) return straddle();
  if (!strcmp(mode, "faults")) return faults();
  if (!strcmp(mode, "hb")) return hb(argc > 2 ? argv[2] : "info-get guestinfo.foo");
  if (!strcmp(mode, "loop")) { long n = argc > 2 ? atol(argv[2]) : 100000; printf("ok=%ld\n", (long)worker((void *)n)); return 0; }
  if (!strcmp(mode, "hbloop")) { /* N one-shot RPCI exchanges (7 traps each, 2 of them HB) */
    static char reply[70000];
    long n = atol(argv[3]);
    for (long i = 0; i < n; i++) if (rpc(argv[2], reply, sizeof reply) < 0) { printf("rpc failed\n"); return 1; }
    printf("hbloop %ld bytes=%zu\n", n, strlen(reply));
    return 0;
  }
  if (!strcmp(mode, "exit")) return atoi(argv[2]);
  if (!strcmp(mode, "abort")) abort();
  if (!strcmp(mode, "stop")) { printf("before\n"); raise(SIGSTOP); printf("after\n"); return 0; }
  fprintf(stderr, "unknown mode %s\n", mode);
  return 2;
}
