/* A differential-testing harness around libnice's STUN TURN usage
 * (stun/usages/turn.h). Built by turn's tests with gcc and pkg-config nice.
 *
 *   harness create MODE PORTS BANDWIDTH LIFETIME USER PASS [PREVIOUS_HEX]
 *   harness refresh MODE LIFETIME USER PASS [PREVIOUS_HEX]
 *       print the request libnice builds, as hex
 *   harness process MODE RESPONSE_HEX
 *   harness refresh_process MODE RESPONSE_HEX
 *       print: ret=N relay=ADDR mapped=ADDR alternate=ADDR bandwidth=N lifetime=N
 *
 * MODE is 0 DRAFT9, 1 GOOGLE, 2 MSN, 3 OC2007, 4 RFC5766. The agent is set up
 * as libnice's own agent sets it up for each mode. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stun/stunagent.h>
#include <stun/usages/turn.h>

static void init_agent(StunAgent *agent, int mode) {
  switch (mode) {
  case STUN_USAGE_TURN_COMPATIBILITY_GOOGLE:
    stun_agent_init(agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC3489,
        STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_IGNORE_CREDENTIALS);
    break;
  case STUN_USAGE_TURN_COMPATIBILITY_MSN:
    stun_agent_init(agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC3489,
        STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS);
    break;
  case STUN_USAGE_TURN_COMPATIBILITY_OC2007:
    stun_agent_init(agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_OC2007,
        STUN_AGENT_USAGE_LONG_TERM_CREDENTIALS | STUN_AGENT_USAGE_NO_ALIGNED_ATTRIBUTES);
    break;
  default:
    stun_agent_init(agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389,
        STUN_AGENT_USAGE_ADD_SOFTWARE | STUN_AGENT_USAGE_LONG_TERM_CREDENTIALS);
  }
}

static size_t unhex(const char *s, uint8_t *out, size_t max) {
  size_t n = 0;
  while (s[0] && s[1] && n < max) {
    unsigned v;
    sscanf(s, "%2x", &v);
    out[n++] = v;
    s += 2;
  }
  return n;
}

static void print_hex(const uint8_t *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    printf("%02x", b[i]);
  printf("\n");
}

static void print_addr(const char *name, struct sockaddr_storage *ss, socklen_t len) {
  char host[64] = "-";
  int port = 0;
  if (len > 0 && ss->ss_family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (len > 0 && ss->ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
  }
  if (port || strcmp(host, "-"))
    printf(" %s=%s%s%s:%d", name, ss->ss_family == AF_INET6 ? "[" : "", host,
        ss->ss_family == AF_INET6 ? "]" : "", port);
  else
    printf(" %s=-", name);
}

int main(int argc, char **argv) {
  StunAgent agent;
  StunMessage msg, prev;
  uint8_t buf[2048], pbuf[2048];
  if (argc < 3)
    return 2;
  int mode = atoi(argv[2]);
  init_agent(&agent, mode);
  memset(&prev, 0, sizeof prev);
  if (!strcmp(argv[1], "create") && argc >= 8) {
    StunMessage *p = NULL;
    if (argc >= 9) {
      prev.agent = &agent;
      prev.buffer = pbuf;
      prev.buffer_len = unhex(argv[8], pbuf, sizeof pbuf);
      p = &prev;
    }
    size_t n = stun_usage_turn_create(&agent, &msg, buf, sizeof buf, p, atoi(argv[3]),
        atoi(argv[4]), atoi(argv[5]), (uint8_t *)argv[6], strlen(argv[6]),
        (uint8_t *)argv[7], strlen(argv[7]), mode);
    print_hex(buf, n);
    return 0;
  }
  if (!strcmp(argv[1], "refresh") && argc >= 6) {
    StunMessage *p = NULL;
    if (argc >= 7) {
      prev.agent = &agent;
      prev.buffer = pbuf;
      prev.buffer_len = unhex(argv[6], pbuf, sizeof pbuf);
      p = &prev;
    }
    size_t n = stun_usage_turn_create_refresh(&agent, &msg, buf, sizeof buf, p, atoi(argv[3]),
        (uint8_t *)argv[4], strlen(argv[4]), (uint8_t *)argv[5], strlen(argv[5]), mode);
    print_hex(buf, n);
    return 0;
  }
  if ((!strcmp(argv[1], "process") || !strcmp(argv[1], "refresh_process")) && argc >= 4) {
    memset(&msg, 0, sizeof msg);
    msg.agent = &agent;
    msg.buffer = buf;
    msg.buffer_len = unhex(argv[3], buf, sizeof buf);
    struct sockaddr_storage relay, mapped, alt;
    socklen_t rl = sizeof relay, ml = sizeof mapped, al = sizeof alt;
    memset(&relay, 0, sizeof relay);
    memset(&mapped, 0, sizeof mapped);
    memset(&alt, 0, sizeof alt);
    uint32_t bw = 0, lt = 0;
    int ret;
    if (!strcmp(argv[1], "process"))
      ret = stun_usage_turn_process(&msg, (struct sockaddr *)&relay, &rl,
          (struct sockaddr *)&mapped, &ml, (struct sockaddr *)&alt, &al, &bw, &lt, mode);
    else
      ret = stun_usage_turn_refresh_process(&msg, &lt, mode), rl = ml = al = 0;
    printf("ret=%d", ret);
    print_addr("relay", &relay, rl);
    print_addr("mapped", &mapped, ml);
    print_addr("alternate", &alt, al);
    printf(" bandwidth=%u lifetime=%u\n", bw, lt);
    return 0;
  }
  return 2;
}
