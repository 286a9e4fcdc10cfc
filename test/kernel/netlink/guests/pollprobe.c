/* A guest that drives its netlink socket from an event loop: a non-blocking socket, epoll for
 * POLLIN, recv(MSG_DONTWAIT) until EAGAIN, and epoll again, as tokio- or libuv-style programs do.
 * Prints: how many messages and NLMSG_DONEs it read, whether the fd was ready before the answers
 * were read and whether it still was after. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s < 0) { perror("socket"); return 1; }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = s};
  epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
  struct epoll_event out;
  printf("ready-before-request=%d\n", epoll_wait(ep, &out, 1, 0));
  struct {
    struct nlmsghdr h;
    struct ifinfomsg i;
  } req = {.h = {.nlmsg_len = sizeof req, .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 7}};
  if (send(s, &req, sizeof req, 0) < 0) { perror("send"); return 1; }
  int links = 0, done = 0, waits = 0;
  char buf[65536];
  while (!done && waits < 50) {
    int n = epoll_wait(ep, &out, 1, 5000);
    waits++;
    if (n != 1) { printf("epoll timeout\n"); return 2; }
    for (;;) {
      ssize_t r = recv(s, buf, sizeof buf, MSG_DONTWAIT);
      if (r < 0 && errno == EAGAIN) break;
      if (r < 0) { perror("recv"); return 1; }
      for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)r); h = NLMSG_NEXT(h, r)) {
        if (h->nlmsg_type == RTM_NEWLINK) links++;
        if (h->nlmsg_type == NLMSG_DONE) done++;
      }
    }
  }
  printf("links=%d done=%d\n", links, done);
  printf("ready-after=%d\n", epoll_wait(ep, &out, 1, 0));
  return 0;
}
