/* A guest for the supervisor tests: each mode makes a few socket-family calls and prints what
 * the kernel (or moat, answering by hand) returned, one "key=value" line at a time. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char* en(int e) {
  const char* n = strerrorname_np(e);
  return n ? n : "?";
}

static void report(const char* what, long r) {
  if (r < 0) printf("%s=-1 %s\n", what, en(errno));
  else printf("%s=%ld\n", what, r);
}

static struct sockaddr_in addr_7777(void) {
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons(7777);
  sin.sin_addr.s_addr = htonl(0x7f000001);
  return sin;
}

static void* accept_thread(void* arg) {
  int fd = *(int*)arg;
  report("accept", accept(fd, NULL, NULL));
  return NULL;
}

struct flood_arg {
  int calls;
  int refused;
};

static void* flood_thread(void* p) {
  struct flood_arg* a = p;
  for (int i = 0; i < a->calls; i++)
    if (connect(-1, NULL, 0) < 0 && errno == ECONNREFUSED) a->refused++;
  return NULL;
}

static volatile sig_atomic_t got_usr1 = 0;
static void on_usr1(int sig) {
  (void)sig;
  got_usr1 = 1;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  const char* mode = argc > 1 ? argv[1] : "";

  if (!strcmp(mode, "socket-write")) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    report("socket", s);
    if (s < 0) return 1;
    int fl = fcntl(s, F_GETFL), fdfl = fcntl(s, F_GETFD);
    printf("nonblock=%d cloexec=%d\n", !!(fl & O_NONBLOCK), !!(fdfl & FD_CLOEXEC));
    report("write", write(s, "hello", 5));
    close(s);
    int s2 = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    report("socket6", s2);
    fl = fcntl(s2, F_GETFL);
    fdfl = fcntl(s2, F_GETFD);
    printf("nonblock=%d cloexec=%d\n", !!(fl & O_NONBLOCK), !!(fdfl & FD_CLOEXEC));
    return 0;
  }
  if (!strcmp(mode, "connect-refused")) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = addr_7777();
    report("connect", connect(s, (struct sockaddr*)&sin, sizeof sin));
    return 0;
  }
  if (!strcmp(mode, "connect-badptr")) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    report("connect", connect(s, (struct sockaddr*)8, 16));
    return 0;
  }
  if (!strcmp(mode, "unix")) {
    int sv[2];
    report("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    report("write", write(sv[0], "ping", 4));
    char buf[8] = {0};
    report("read", read(sv[1], buf, sizeof buf));
    printf("got=%s\n", buf);
    int d = socket(AF_UNIX, SOCK_DGRAM, 0);
    printf("unixdgram=%s\n", d >= 0 ? "ok" : en(errno));
    int n = socket(AF_NETLINK, SOCK_RAW, 0);
    printf("netlink=%s\n", n >= 0 ? "ok" : en(errno));
    /* socketpair(AF_INET) is trapped: the test answers EOPNOTSUPP, as Linux itself would. */
    report("socketpair-inet", socketpair(AF_INET, SOCK_STREAM, 0, sv));
    return 0;
  }
  if (!strcmp(mode, "io_uring")) {
    char params[120] = {0};
    report("io_uring_setup", syscall(SYS_io_uring_setup, 8, params));
    report("io_uring_enter", syscall(SYS_io_uring_enter, 0, 0, 0, 0, NULL, 0));
    report("io_uring_register", syscall(SYS_io_uring_register, 0, 0, NULL, 0));
    return 0;
  }
  if (!strcmp(mode, "netdev")) {
    FILE* f = fopen("/proc/self/net/dev", "r");
    if (!f) {
      printf("netdev=-1 %s\n", en(errno));
      return 1;
    }
    char line[512];
    printf("ifaces=");
    int first = 1;
    while (fgets(line, sizeof line, f)) {
      char* colon = strchr(line, ':');
      if (!colon) continue;
      *colon = 0;
      char* name = line;
      while (*name == ' ') name++;
      printf("%s%s", first ? "" : ",", name);
      first = 0;
    }
    printf("\n");
    return 0;
  }
  if (!strcmp(mode, "threads")) {
    int a = socket(AF_INET, SOCK_STREAM, 0);
    report("socket-a", a);
    pthread_t t;
    pthread_create(&t, NULL, accept_thread, &a);
    int b = socket(AF_INET, SOCK_STREAM, 0);
    report("socket-b", b);
    struct sockaddr_in sin = addr_7777();
    report("connect", connect(b, (struct sockaddr*)&sin, sizeof sin));
    pthread_join(t, NULL);
    return 0;
  }
  if (!strcmp(mode, "fork-kill")) {
    pid_t child = fork();
    if (child == 0) {
      /* Trapped; the test kills us while moat still holds the call. */
      socket(AF_INET, SOCK_STREAM, 0);
      _exit(0);
    }
    printf("child=%d\n", (int)child);
    int status = 0;
    waitpid(child, &status, 0);
    printf("child-signal=%d\n", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    /* Wait for the test's go-ahead (a line on stdin) so it can inspect the supervisor first. */
    char go;
    if (read(0, &go, 1) != 1) return 3;
    report("socket-after", socket(AF_INET, SOCK_STREAM, 0));
    return 0;
  }
  if (!strcmp(mode, "int80")) {
    /* socketcall(SYS_SOCKET, args) through the i386 entry point. */
    static unsigned int args[3] = {AF_INET, SOCK_STREAM, 0};
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(102L), "b"(1L), "c"((long)(unsigned long)args) : "memory");
    printf("int80=%ld\n", r);
    /* x32 socket(): x86_64 arch, nr with __X32_SYSCALL_BIT. */
    report("x32", syscall(0x40000000 | SYS_socket, AF_INET, SOCK_STREAM, 0));
    return 0;
  }
  if (!strcmp(mode, "ioctl")) {
    int u = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "eth0");
    report("siocgifindex", ioctl(u, SIOCGIFINDEX, &ifr));
    int p[2];
    if (pipe(p) < 0) return 1;
    write(p[1], "abc", 3);
    int avail = -1;
    report("fionread", ioctl(p[0], FIONREAD, &avail));
    printf("avail=%d\n", avail);
    return 0;
  }
  if (!strcmp(mode, "memory")) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    /* getsockname: moat writes a sockaddr and its length into our memory. */
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    socklen_t len = sizeof sin;
    report("getsockname", getsockname(s, (struct sockaddr*)&sin, &len));
    char ip[32];
    inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof ip);
    printf("name=%s:%d len=%u\n", ip, ntohs(sin.sin_port), (unsigned)len);
    /* A short buffer: truncated copy, full length reported. */
    char small[4] = {0};
    len = sizeof small;
    report("getsockname-short", getsockname(s, (struct sockaddr*)small, &len));
    printf("short-len=%u family=%d\n", (unsigned)len, (int)(unsigned char)small[0]);
    /* sendmsg: moat gathers our iovecs. */
    struct iovec out[2] = {{"hel", 3}, {"lo world", 2}};
    struct msghdr mo;
    memset(&mo, 0, sizeof mo);
    mo.msg_iov = out;
    mo.msg_iovlen = 2;
    report("sendmsg", sendmsg(s, &mo, 0));
    /* recvmsg: moat scatters into ours. */
    char a[3] = {0}, b[10] = {0};
    struct iovec in[2] = {{a, sizeof a}, {b, sizeof b}};
    struct msghdr mi;
    memset(&mi, 0, sizeof mi);
    mi.msg_iov = in;
    mi.msg_iovlen = 2;
    long n = recvmsg(s, &mi, 0);
    report("recvmsg", n);
    printf("a=%.3s b=%.10s\n", a, b);
    return 0;
  }
  if (!strcmp(mode, "status")) {
    /* What the exec helper left us: no_new_privs, a filter, and no fds beyond stdio. */
    FILE* f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
      if (!strncmp(line, "NoNewPrivs:", 11) || !strncmp(line, "Seccomp:", 8) || !strncmp(line, "CapEff:", 7) ||
          !strncmp(line, "CapBnd:", 7) || !strncmp(line, "CapPrm:", 7) || !strncmp(line, "Uid:", 4) || !strncmp(line, "Gid:", 4) ||
          !strncmp(line, "Groups:", 7)) {
        char* v = strchr(line, ':') + 1;
        while (*v == ' ' || *v == '\t') v++;
        v[strcspn(v, "\n")] = 0;
        printf("%.*s=%s\n", (int)(strchr(line, ':') - line), line, v);
      }
    }
    if (f) fclose(f);
    printf("fds=");
    for (int fd = 0, first = 1; fd < 1024; fd++) {
      if (fcntl(fd, F_GETFD) >= 0) {
        printf("%s%d", first ? "" : ",", fd);
        first = 0;
      }
    }
    printf("\n");
    char cwd[512];
    printf("cwd=%s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
    printf("argv0=%s\n", argv[0]);
    const char* e = getenv("MOAT_TEST_VAR");
    printf("env=%s\n", e ? e : "(unset)");
    /* setns back into the host's network namespace (init's) must fail. */
    int ns = open("/proc/1/ns/net", O_RDONLY);
    printf("setns=%s\n", ns < 0 ? en(errno) : setns(ns, CLONE_NEWNET) == 0 ? "ok" : en(errno));
    return 0;
  }
  if (!strcmp(mode, "flood")) {
    int nthreads = argc > 2 ? atoi(argv[2]) : 4, calls = argc > 3 ? atoi(argv[3]) : 50;
    if (nthreads < 1 || nthreads > 64) nthreads = 4;
    pthread_t t[64];
    struct flood_arg a[64];
    for (int i = 0; i < nthreads; i++) {
      a[i].calls = calls;
      a[i].refused = 0;
      pthread_create(&t[i], NULL, flood_thread, &a[i]);
    }
    int total = 0;
    for (int i = 0; i < nthreads; i++) {
      pthread_join(t[i], NULL);
      total += a[i].refused;
    }
    printf("refused=%d\n", total);
    return 0;
  }
  if (!strcmp(mode, "signal")) {
    /* No SA_RESTART: an interrupted call would fail with EINTR. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    report("connect", connect(-1, NULL, 0));
    printf("usr1=%d\n", (int)got_usr1);
    if (argc > 2 && !strcmp(argv[2], "wait")) {
      char go;
      if (read(0, &go, 1) != 1) return 3;
    }
    return 0;
  }
  fprintf(stderr, "netprobe: unknown mode %s\n", mode);
  return 2;
}
