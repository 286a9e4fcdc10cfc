/* A guest that asks about its interfaces the ways C programs do: glibc getifaddrs(),
 * if_nameindex(), getaddrinfo(AI_ADDRCONFIG), and a raw RTM_GETADDR dump read the way Go's
 * syscall.NetlinkRIB reads it (recvfrom into one page, checking nlmsg_seq and nlmsg_pid against
 * getsockname). Prints one fact per line for the test to compare. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *ntop(const struct sockaddr *sa, char *buf, size_t n) {
  if (!sa) return "-";
  if (sa->sa_family == AF_INET) return inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, n);
  if (sa->sa_family == AF_INET6) return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, n);
  return "?";
}

static int go_style_dump(void) {
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s < 0) return -1;
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0) return -2;
  struct {
    struct nlmsghdr h;
    struct rtgenmsg g;
  } req = {.h = {.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtgenmsg)), .nlmsg_type = RTM_GETADDR, .nlmsg_flags = NLM_F_DUMP | NLM_F_REQUEST, .nlmsg_seq = 1}, .g = {.rtgen_family = AF_UNSPEC}};
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(s, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return -3;
  struct sockaddr_nl me;
  socklen_t melen = sizeof me;
  if (getsockname(s, (struct sockaddr *)&me, &melen) < 0) return -4;
  char page[4096];
  int addrs = 0;
  for (int round = 0; round < 100; round++) {
    struct sockaddr_nl from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(s, page, sizeof page, 0, (struct sockaddr *)&from, &fl);
    if (n < 0 || from.nl_pid != 0) return -5;
    for (struct nlmsghdr *h = (struct nlmsghdr *)page; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != 1 || h->nlmsg_pid != me.nl_pid) return -6;
      if (h->nlmsg_type == NLMSG_DONE) {
        close(s);
        return addrs;
      }
      if (h->nlmsg_type == RTM_NEWADDR) addrs++;
    }
  }
  return -7;
}

int main(void) {
  struct ifaddrs *ifa;
  if (getifaddrs(&ifa) != 0) {
    perror("getifaddrs");
    return 1;
  }
  for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
    char a[64], m[64];
    int fam = i->ifa_addr ? i->ifa_addr->sa_family : -1;
    if (fam == AF_INET || fam == AF_INET6)
      printf("ifaddr %s %s %s %s\n", i->ifa_name, fam == AF_INET ? "inet" : "inet6", ntop(i->ifa_addr, a, sizeof a), ntop(i->ifa_netmask, m, sizeof m));
    else
      printf("iflink %s flags=0x%x\n", i->ifa_name, i->ifa_flags);
  }
  freeifaddrs(ifa);
  /* if_nameindex() reads RTM_GETLINK (if_nametoindex would use an ioctl on an inet socket: that
   * is the socket layer's to answer, not netlink's). */
  struct if_nameindex *ni = if_nameindex();
  for (struct if_nameindex *p = ni; p && p->if_index; p++) printf("if_nameindex %u %s\n", p->if_index, p->if_name);
  if (ni) if_freenameindex(ni);
  /* With a family named, glibc's AI_ADDRCONFIG refuses it unless a non-loopback, non-link-local
   * address of that family is configured (__check_pf reads RTM_GETADDR). */
  struct addrinfo hints = {.ai_flags = AI_ADDRCONFIG | AI_NUMERICHOST, .ai_socktype = SOCK_STREAM, .ai_family = AF_INET}, *res;
  int v4 = getaddrinfo("192.0.2.1", NULL, &hints, &res) == 0;
  if (v4) freeaddrinfo(res);
  hints.ai_family = AF_INET6;
  int v6 = getaddrinfo("2001:db8::1", NULL, &hints, &res) == 0;
  if (v6) freeaddrinfo(res);
  printf("addrconfig v4=%d v6=%d\n", v4, v6);
  printf("go-style dump addrs=%d\n", go_style_dump());
  return 0;
}
