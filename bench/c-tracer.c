/*
 * Minimal ptrace tracer in C: the baseline for `vmport run`'s per-trap cost. It does the same work per trap as
 * vmport's tracer (waitpid, GETSIGINFO, GETREGS, read the instruction, emulate, SETREGS, CONT) and nothing else.
 * Usage: c-tracer CPU [-r REPLY_BYTES] PROGRAM [ARGS...]   (CPU -1: not pinned)
 * Emulated: GETVERSION (`in eax,dx`, command 10); with -r, also the message channel the way the probe's `hbloop`
 * mode uses it (command 30: OPEN, SENDSIZE, RECVSIZE, RECVSTATUS, CLOSE; `rep outsb` / `rep insb` on port 0x5659),
 * answering every message with REPLY_BYTES bytes: the same transfers vmport makes for `info-get` of a value that
 * size, without parsing anything.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAGIC 0x564D5868u
#define LO32(r, v) ((r) = ((r) & ~0xffffffffUL) | (uint32_t)(v))

static unsigned char *msgbuf, *reply;
static long reply_bytes = -1;

/* The message channel as the probe drives it; returns 0 when this is not such a call. */
static int message(pid_t pid, struct user_regs_struct *r, long word) {
  uint16_t port = r->rdx & 0xffff;
  if ((uint32_t)r->rax != MAGIC) return 0;
  if ((word & 0xffff) == 0x6ef3 || (word & 0xffff) == 0x6cf3) { /* rep outsb / rep insb on the HB port */
    if (port != 0x5659) return 0;
    size_t n = (uint32_t)r->rcx;
    if ((word & 0xffff) == 0x6ef3) {
      struct iovec l = {msgbuf, n}, rr = {(void *)r->rsi, n};
      if (n > 65536 || process_vm_readv(pid, &l, 1, &rr, 1, 0) != (ssize_t)n) return 0;
      r->rsi += n;
    } else {
      struct iovec l = {reply, n}, rr = {(void *)r->rdi, n};
      if (n > (size_t)reply_bytes || process_vm_writev(pid, &l, 1, &rr, 1, 0) != (ssize_t)n) return 0;
      r->rdi += n;
    }
    LO32(r->rcx, 0);
    LO32(r->rbx, 0x10000);
    r->rip += 2;
    return 1;
  }
  if ((word & 0xff) != 0xed || port != 0x5658 || (r->rcx & 0xffff) != 30) return 0;
  switch ((uint32_t)r->rcx >> 16) {
    case 0: LO32(r->rcx, 1 << 16); LO32(r->rdx, port); LO32(r->rsi, 0x1234); LO32(r->rdi, 0x5678); break; /* OPEN */
    case 1: LO32(r->rcx, 0x81 << 16); break;                                                           /* SENDSIZE */
    case 3: LO32(r->rcx, 0x83 << 16); LO32(r->rbx, reply_bytes); LO32(r->rdx, (1 << 16) | port); break;  /* RECVSIZE */
    default: LO32(r->rcx, 1 << 16); break;                                                              /* RECVSTATUS, CLOSE */
  }
  r->rip += 1;
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  int cpu = atoi(argv[1]);
  int first = 2;
  if (!strcmp(argv[2], "-r") && argc > 4) {
    reply_bytes = atol(argv[3]);
    first = 4;
    msgbuf = malloc(65536);
    reply = malloc(reply_bytes + 1);
    memset(reply, 'v', reply_bytes);
    memcpy(reply, "1 ", 2);
  }
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
  }
  pid_t pid = fork();
  if (pid == 0) {
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    execvp(argv[first], argv + first);
    _exit(127);
  }
  int st;
  waitpid(pid, &st, 0);
  ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_EXITKILL);
  ptrace(PTRACE_CONT, pid, 0, 0);
  long traps = 0;
  for (;;) {
    if (waitpid(pid, &st, __WALL) < 0) break;
    if (WIFEXITED(st) || WIFSIGNALED(st)) break;
    int sig = WSTOPSIG(st);
    if (sig == SIGSEGV) {
      siginfo_t si;
      struct user_regs_struct r;
      ptrace(PTRACE_GETSIGINFO, pid, 0, &si);
      if (si.si_code == 0x80 && ptrace(PTRACE_GETREGS, pid, 0, &r) == 0) {
        errno = 0;
        long word = ptrace(PTRACE_PEEKTEXT, pid, r.rip, 0);
        int done = 0;
        if ((word & 0xff) == 0xed && (uint32_t)r.rax == MAGIC && (r.rdx & 0xffff) == 0x5658 && (r.rcx & 0xffff) == 10) {
          r.rax = 6;
          LO32(r.rbx, MAGIC);
          LO32(r.rcx, 2);
          r.rip += 1;
          done = 1;
        } else if (reply_bytes >= 0) done = message(pid, &r, word);
        if (done) {
          ptrace(PTRACE_SETREGS, pid, 0, &r);
          ptrace(PTRACE_CONT, pid, 0, 0);
          traps++;
          continue;
        }
      }
    }
    ptrace(PTRACE_CONT, pid, 0, sig == SIGTRAP ? 0 : sig);
  }
  fprintf(stderr, "c-tracer: %ld traps\n", traps);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
