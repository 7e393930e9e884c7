/* Loads a library with dlopen after start-up and prints the hypervisor signature its `cpuid` sees. */
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { printf("dlopen failed %s\n", dlerror()); return 1; }
  int (*f)(char *) = (int (*)(char *))dlsym(h, "vendor");
  char sig[13];
  f(sig);
  printf("hv=%s\n", sig);
  return 0;
}
