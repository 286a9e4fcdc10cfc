/* socket(AF_NETLINK, ...) errors and the types a netlink socket reports. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

static void try(const char *what, int type) {
  int s = socket(AF_NETLINK, type, NETLINK_ROUTE);
  if (s < 0) {
    printf("%s=-1 %s\n", what, strerrorname_np(errno));
    return;
  }
  int t = -1, proto = -1, dom = -1;
  socklen_t l = sizeof t;
  getsockopt(s, SOL_SOCKET, SO_TYPE, &t, &l);
  l = sizeof proto;
  getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &proto, &l);
  l = sizeof dom;
  getsockopt(s, SOL_SOCKET, SO_DOMAIN, &dom, &l);
  printf("%s=ok type=%d protocol=%d domain=%d nonblock=%d cloexec=%d\n", what, t, proto, dom, (fcntl(s, F_GETFL) & O_NONBLOCK) != 0,
         (fcntl(s, F_GETFD) & FD_CLOEXEC) != 0);
  close(s);
}

int main(void) {
  try("raw", SOCK_RAW);
  try("dgram-nonblock-cloexec", SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC);
  try("stream", SOCK_STREAM);
  try("seqpacket", SOCK_SEQPACKET);
  try("bad-flag", SOCK_RAW | 0x100000);
  return 0;
}
