/* A differential-testing harness around libnice's STUN TURN usage
 * (stun/usages/turn.h). Built by turn's tests with gcc and pkg-config nice.
 *
 * It reads commands from standard input, one a line, fields separated by
 * spaces ("=" stands for an empty field), and answers each with one line:
 *
 *   create MODE PORTS BANDWIDTH LIFETIME USER PASS [PREVIOUS_HEX]
 *   refresh MODE LIFETIME USER PASS [PREVIOUS_HEX]
 *       the request libnice builds, as hex ("-" when it builds none)
 *   process MODE RESPONSE_HEX
 *   refresh_process MODE RESPONSE_HEX
 *       ret=N relay=ADDR mapped=ADDR alternate=ADDR bandwidth=N lifetime=N
 *       (ADDR is "-" when libnice left the address unset)
 *
 * MODE is 0 DRAFT9, 1 GOOGLE, 2 MSN, 3 OC2007, 4 RFC5766. Each command gets
 * a fresh agent, set up as libnice's own agent sets it up for the mode. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stun/stunagent.h>
#include <stun/usages/turn.h>

#define MAX_FIELDS 16

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
    if (sscanf(s, "%2x", &v) != 1)
      break;
    out[n++] = v;
    s += 2;
  }
  return n;
}

static void print_hex(const uint8_t *b, size_t n) {
  if (n == 0)
    printf("-");
  for (size_t i = 0; i < n; i++)
    printf("%02x", b[i]);
  printf("\n");
}

static void print_addr(const char *name, struct sockaddr_storage *ss) {
  char host[64];
  if (ss->ss_family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    printf(" %s=%s:%d", name, host, ntohs(a->sin_port));
  } else if (ss->ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    printf(" %s=[%s]:%d", name, host, ntohs(a->sin6_port));
  } else {
    printf(" %s=-", name);
  }
}

/* run executes one command of argc fields. */
static void run(int argc, char **argv) {
  StunAgent agent;
  StunMessage msg, prev;
  uint8_t buf[4096], pbuf[4096];
  if (argc < 3) {
    printf("bad command\n");
    return;
  }
  int mode = atoi(argv[1]);
  init_agent(&agent, mode);
  memset(&prev, 0, sizeof prev);
  memset(&msg, 0, sizeof msg);
  if (!strcmp(argv[0], "create") && argc >= 7) {
    StunMessage *p = NULL;
    if (argc >= 8) {
      prev.agent = &agent;
      prev.buffer = pbuf;
      prev.buffer_len = unhex(argv[7], pbuf, sizeof pbuf);
      p = &prev;
    }
    size_t n = stun_usage_turn_create(&agent, &msg, buf, sizeof buf, p, atoi(argv[2]),
        atoi(argv[3]), atoi(argv[4]), (uint8_t *)argv[5], strlen(argv[5]),
        (uint8_t *)argv[6], strlen(argv[6]), mode);
    print_hex(buf, n);
    return;
  }
  if (!strcmp(argv[0], "refresh") && argc >= 5) {
    StunMessage *p = NULL;
    if (argc >= 6) {
      prev.agent = &agent;
      prev.buffer = pbuf;
      prev.buffer_len = unhex(argv[5], pbuf, sizeof pbuf);
      p = &prev;
    }
    size_t n = stun_usage_turn_create_refresh(&agent, &msg, buf, sizeof buf, p, atoi(argv[2]),
        (uint8_t *)argv[3], strlen(argv[3]), (uint8_t *)argv[4], strlen(argv[4]), mode);
    print_hex(buf, n);
    return;
  }
  if (!strcmp(argv[0], "process") || !strcmp(argv[0], "refresh_process")) {
    msg.agent = &agent;
    msg.buffer = buf;
    msg.buffer_len = unhex(argv[2], buf, sizeof buf);
    struct sockaddr_storage relay, mapped, alt;
    socklen_t rl = sizeof relay, ml = sizeof mapped, al = sizeof alt;
    memset(&relay, 0, sizeof relay);
    memset(&mapped, 0, sizeof mapped);
    memset(&alt, 0, sizeof alt);
    uint32_t bw = 0, lt = 0;
    int ret;
    if (!strcmp(argv[0], "process"))
      ret = stun_usage_turn_process(&msg, &relay, &rl, &mapped, &ml, &alt, &al,
          &bw, &lt, mode);
    else
      ret = stun_usage_turn_refresh_process(&msg, &lt, mode);
    printf("ret=%d", ret);
    print_addr("relay", &relay);
    print_addr("mapped", &mapped);
    print_addr("alternate", &alt);
    printf(" bandwidth=%u lifetime=%u\n", bw, lt);
    return;
  }
  printf("bad command\n");
}

int main(void) {
  static char line[1 << 16];
  while (fgets(line, sizeof line, stdin)) {
    char *argv[MAX_FIELDS];
    int argc = 0;
    for (char *f = strtok(line, " \n"); f && argc < MAX_FIELDS; f = strtok(NULL, " \n"))
      argv[argc++] = strcmp(f, "=") ? f : "";
    run(argc, argv);
    fflush(stdout);
  }
  return 0;
}
