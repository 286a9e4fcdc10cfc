/* Which port id does an implicit bind give? Linux's netlink_autobind uses the binding process's
 * pid first, then negative ids. A socket made before fork() and bound by the child gets the
 * child's pid; the parent's next socket gets the parent's pid; the one after that a negative id. */
#define _GNU_SOURCE
#include <linux/netlink.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned port_of(int s) {
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0) return 0;
  socklen_t len = sizeof sa;
  getsockname(s, (struct sockaddr *)&sa, &len);
  return sa.nl_pid;
}

int main(void) {
  int s1 = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  pid_t child = fork();
  if (child == 0) {
    printf("child-bound-port-is-child-pid=%d\n", port_of(s1) == (unsigned)getpid());
    fflush(stdout);
    _exit(0);
  }
  waitpid(child, NULL, 0);
  int s2 = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  printf("parent-port-is-parent-pid=%d\n", port_of(s2) == (unsigned)getpid());
  int s3 = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  printf("third-port-is-negative=%d\n", port_of(s3) >= 0x80000000u);
  return 0;
}
