/*
 * Minimal ptrace tracer in C: the baseline for `vmport run`'s per-trap cost. It does the same work per trap as
 * vmport's tracer (waitpid, GETSIGINFO, GETREGS, read the instruction, emulate GETVERSION, SETREGS, CONT) and
 * nothing else. Usage: c-tracer CPU PROGRAM [ARGS...]
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
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(atoi(argv[1]), &set);
  sched_setaffinity(0, sizeof set, &set);
  pid_t pid = fork();
  if (pid == 0) {
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    execvp(argv[2], argv + 2);
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
        if ((word & 0xff) == 0xed && (uint32_t)r.rax == 0x564D5868 && (r.rdx & 0xffff) == 0x5658 && (r.rcx & 0xffff) == 10) {
          r.rax = 6;
          r.rbx = (r.rbx & ~0xffffffffUL) | 0x564D5868;
          r.rcx = (r.rcx & ~0xffffffffUL) | 2;
          r.rip += 1;
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
