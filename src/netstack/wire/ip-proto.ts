// IANA "Assigned Internet Protocol Numbers": the IPv4 Protocol field and IPv6 Next Header
// values (RFC 8200 §4 for which of them are IPv6 extension headers).

export const IpProto = {
  HOPOPTS: 0,
  ICMP: 1,
  IGMP: 2,
  IPIP: 4,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  ROUTING: 43,
  FRAGMENT: 44,
  GRE: 47,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NONE: 59,
  DSTOPTS: 60,
  SCTP: 132,
  MOBILITY: 135,
  UDPLITE: 136,
} as const;
