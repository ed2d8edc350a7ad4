// httpload: an epoll closed-loop HTTP/1.1 load generator, one new TCP connection per request, for the tickplant benchmarks.
//
// Build (the scenarios do it): gcc -O2 -o bench/.build/httpload bench/loadgen/httpload.c
// Run:   httpload --port P --path /api/v1/cache/stock-prices/AAPL --conns 8 --seconds 20 [--host 127.0.0.1]
//        httpload --port P --path /a/k1 --path /a/k2 --conns 8 --seconds 20
//                 --method POST --body-file value.json --content-type application/json
//                 --header "x-api-key: tp_…"
//
// Each of `conns` slots loops as fast as the server answers: connect (non-blocking) → send
// `<method> <path> HTTP/1.1` with `Connection: close`, each --header line as given (e.g. a
// credential), and, with --body-file, Content-Type, Content-Length and the file's bytes as the
// body → read until the server closes (EOF) → record the latency (connect start to EOF,
// CLOCK_MONOTONIC, µs) and the status code of the first line → connect again. The method
// defaults to GET; --path may be given several times, each new request taking the next path in
// turn (all slots share one rotation), so a POST load can replace a few entries rather than
// one. An answer that arrives while the body is still being sent (a 413, say) is read and
// counted like any other. tickplant closes every HTTP connection after its response, so a
// connection per request is what any client of it pays; the latency therefore includes the
// TCP handshake.
// A refused or reset connection, an EOF before a status line, or no answer within 10 s is an
// error (counted by kind, not a request) and the slot reconnects (after 10 ms when connecting
// failed, so a server that is down is not hammered). Requests in flight when the time is up are
// not counted. At the end it prints one JSON line: requests, seconds,
// requestsPerSecond, status counts, the answers with a 2xx status and the others
// (status2xx, statusOther), errors (total and by kind), bytes sent and received, the latency
// p50/p99/p99.9/max in µs, and its own CPU seconds (getrusage), then exits 0.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "histogram.h"

#define REQUEST_TIMEOUT_US 10000000LL
#define RETRY_PAUSE_US 10000LL
#define RBUF_BYTES 65536
#define MAX_STATUS 600
#define MAX_PATHS 64
#define HEAD_BYTES 4096
#define MAX_HEADERS 16

enum { ST_CONNECTING, ST_SENDING, ST_READING };
enum { E_CONNECT, E_RESET, E_NO_STATUS, E_TIMEOUT, E_SOCKET, E_KINDS };
static const char *error_names[E_KINDS] = { "connect", "reset", "noStatus", "timeout", "socket" };

typedef struct {
  int fd;
  int state;
  int64_t started_us;
  int64_t retry_at_us; /* after a failed connect: when to try again (0: now) */
  const char *req; /* this request's bytes (one of requests_text[]) */
  uint32_t req_len;
  uint32_t sent; /* request bytes written so far */
  char head[16]; /* the first bytes of the answer: `HTTP/1.1 200 …` */
  uint32_t head_len;
} slot_t;

static const char *host = "127.0.0.1", *method = "GET", *body_file, *content_type = "application/octet-stream";
static const char *paths[MAX_PATHS];
static const char *headers[MAX_HEADERS];
static int nheaders = 0;
static int npaths = 0, next_path = 0;
static int port = 0, nslots = 0;
static double seconds = 0;
static slot_t *slots;
static int epfd;
/* One complete request (head and body) per path, built once. */
static char *requests_text[MAX_PATHS];
static uint32_t requests_len[MAX_PATHS];
static struct sockaddr_in addr;

static uint64_t requests, bytes, bytes_sent, errors[E_KINDS], status_count[MAX_STATUS];
static uint64_t hist[HBUCKETS];
static int64_t max_us;

static int64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t percentile(double p) {
  if (requests == 0) return 0;
  uint64_t rank = (uint64_t)((p / 100.0) * (double)requests + 0.5);
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < HBUCKETS; i++) {
    seen += hist[i];
    if (seen >= rank) return value_of(i);
  }
  return max_us;
}

static void start(slot_t *s);

/* Ends the slot's connection and starts the next request at once (closed loop). */
static void finish(slot_t *s, int error_kind) {
  int64_t now = mono_us();
  if (error_kind < 0) {
    int status = 0;
    if (s->head_len >= 12 && memcmp(s->head, "HTTP/1.", 7) == 0) status = atoi(s->head + 9);
    if (status <= 0 || status >= MAX_STATUS) {
      errors[E_NO_STATUS]++;
    } else {
      int64_t us = now - s->started_us;
      requests++;
      status_count[status]++;
      hist[bucket_of(us)]++;
      if (us > max_us) max_us = us;
    }
  } else {
    errors[error_kind]++;
  }
  if (s->fd >= 0) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL);
    close(s->fd);
    s->fd = -1;
  }
  /* A server that refuses (not listening yet, or gone) is retried by the sweep after a pause,
     not in a tight loop that would burn the core the server needs. */
  if (error_kind == E_CONNECT || error_kind == E_SOCKET) s->retry_at_us = now + RETRY_PAUSE_US;
  else start(s);
}

static void start(slot_t *s) {
  s->started_us = mono_us();
  s->req = requests_text[next_path];
  s->req_len = requests_len[next_path];
  next_path = (next_path + 1) % npaths;
  s->sent = 0;
  s->head_len = 0;
  s->retry_at_us = 0;
  s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->fd < 0) {
    errors[E_SOCKET]++;
    s->retry_at_us = s->started_us + RETRY_PAUSE_US;
    return;
  }
  int one = 1;
  setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  s->state = ST_CONNECTING;
  if (connect(s->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
    /* EADDRNOTAVAIL (ephemeral ports exhausted) or refused at once: count, close, retry later */
    errors[E_CONNECT]++;
    close(s->fd);
    s->fd = -1;
    s->retry_at_us = s->started_us + RETRY_PAUSE_US;
    return;
  }
  struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = s };
  epoll_ctl(epfd, EPOLL_CTL_ADD, s->fd, &ev);
}

#define DRAIN_WAIT (-1) /* the socket is empty: wait for more */
#define DRAIN_DONE (-2) /* EOF, or a reset after the status line: the answer is complete */

/* Reads what the socket holds: DRAIN_WAIT, DRAIN_DONE, or an error kind (E_RESET). */
static int drain(slot_t *s, char *rbuf) {
  for (;;) {
    ssize_t n = read(s->fd, rbuf, RBUF_BYTES);
    if (n > 0) {
      bytes += (uint64_t)n;
      uint32_t take = sizeof s->head - s->head_len;
      if (take > (uint32_t)n) take = (uint32_t)n;
      memcpy(s->head + s->head_len, rbuf, take);
      s->head_len += take;
      continue;
    }
    if (n == 0) return DRAIN_DONE; /* EOF: the whole answer is in */
    if (errno == EAGAIN) return DRAIN_WAIT;
    if (errno == EINTR) continue;
    /* A reset after a complete status line still carries its status: count it as answered. */
    return s->head_len >= 12 ? DRAIN_DONE : E_RESET;
  }
}

static void on_event(slot_t *s, uint32_t events, char *rbuf) {
  if (s->state == ST_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return finish(s, E_CONNECT);
    s->state = ST_SENDING;
  }
  if (s->state == ST_SENDING) {
    /* The server may answer (and close) before the body is all sent: read that answer first. */
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      int r = drain(s, rbuf);
      if (r == DRAIN_DONE) return finish(s, -1);
      if (r != DRAIN_WAIT) return finish(s, r);
    }
    while (s->sent < s->req_len) {
      ssize_t n = send(s->fd, s->req + s->sent, s->req_len - s->sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN) return;
        if (errno == EINTR) continue;
        return finish(s, s->head_len >= 12 ? -1 : E_RESET);
      }
      s->sent += (uint32_t)n;
      bytes_sent += (uint64_t)n;
    }
    s->state = ST_READING;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = s };
    epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &ev);
  }
  if (s->state == ST_READING && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
    int r = drain(s, rbuf);
    if (r == DRAIN_DONE) return finish(s, -1);
    if (r != DRAIN_WAIT) return finish(s, r);
  }
}

/* The whole file, or exits 2 saying why. */
static char *read_file(const char *name, uint32_t *len) {
  FILE *f = fopen(name, "rb");
  struct stat st;
  if (!f || fstat(fileno(f), &st) != 0 || st.st_size > (1 << 30)) {
    fprintf(stderr, "httpload: cannot read --body-file %s\n", name);
    exit(2);
  }
  char *buf = malloc((size_t)st.st_size + 1);
  if (!buf || fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
    fprintf(stderr, "httpload: cannot read --body-file %s\n", name);
    exit(2);
  }
  fclose(f);
  *len = (uint32_t)st.st_size;
  return buf;
}

static void usage(void) {
  fprintf(stderr, "usage: httpload --port P --path /p [--path /q ...] --conns N --seconds S [--host 127.0.0.1]\n"
                  "                [--method GET|POST|PUT|...] [--body-file F [--content-type T]] [--header 'Name: value' ...]\n");
  exit(2);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) usage();
    if (!strcmp(a, "--port")) port = atoi(argv[++i]);
    else if (!strcmp(a, "--path")) {
      if (npaths == MAX_PATHS) usage();
      paths[npaths++] = argv[++i];
    } else if (!strcmp(a, "--method")) method = argv[++i];
    else if (!strcmp(a, "--body-file")) body_file = argv[++i];
    else if (!strcmp(a, "--content-type")) content_type = argv[++i];
    else if (!strcmp(a, "--header")) {
      if (nheaders == MAX_HEADERS) usage();
      headers[nheaders++] = argv[++i];
    }
    else if (!strcmp(a, "--conns")) nslots = atoi(argv[++i]);
    else if (!strcmp(a, "--seconds")) seconds = atof(argv[++i]);
    else if (!strcmp(a, "--host")) host = argv[++i];
    else usage();
  }
  if (port <= 0 || port > 65535 || nslots <= 0 || seconds <= 0 || npaths == 0 || method[0] == '\0' || strpbrk(method, " \r\n")) usage();
  for (int p = 0; p < npaths; p++)
    if (paths[p][0] != '/') usage();
  /* One header line each: a CR or LF would end the head early or smuggle in another line. */
  for (int h = 0; h < nheaders; h++)
    if (strpbrk(headers[h], "\r\n") || !strchr(headers[h], ':') || headers[h][0] == ':') usage();
  char extra[HEAD_BYTES];
  size_t extra_len = 0;
  for (int h = 0; h < nheaders; h++) {
    int n = snprintf(extra + extra_len, sizeof extra - extra_len, "%s\r\n", headers[h]);
    if (n < 0 || (size_t)n >= sizeof extra - extra_len) {
      fprintf(stderr, "httpload: --header lines too long\n");
      return 2;
    }
    extra_len += (size_t)n;
  }
  extra[extra_len] = '\0';
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "httpload: --host must be an IPv4 address: %s\n", host);
    return 2;
  }
  uint32_t body_len = 0;
  char *body = body_file ? read_file(body_file, &body_len) : NULL;
  for (int p = 0; p < npaths; p++) {
    char head[HEAD_BYTES];
    int n = body
      ? snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n%sContent-Type: %s\r\nContent-Length: %u\r\n\r\n",
                 method, paths[p], host, port, extra, content_type, body_len)
      : snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n%s\r\n", method, paths[p], host, port, extra);
    if (n <= 0 || n >= (int)sizeof head) {
      fprintf(stderr, "httpload: --path, --content-type or --header too long\n");
      return 2;
    }
    requests_len[p] = (uint32_t)n + body_len;
    requests_text[p] = malloc(requests_len[p]);
    if (!requests_text[p]) {
      perror("httpload");
      return 1;
    }
    memcpy(requests_text[p], head, (size_t)n);
    if (body_len) memcpy(requests_text[p] + n, body, body_len);
  }
  free(body);

  epfd = epoll_create1(EPOLL_CLOEXEC);
  slots = calloc((size_t)nslots, sizeof *slots);
  char *rbuf = malloc(RBUF_BYTES);
  struct epoll_event *evs = calloc((size_t)nslots, sizeof *evs);
  if (epfd < 0 || !slots || !rbuf || !evs) {
    perror("httpload");
    return 1;
  }
  int64_t t0 = mono_us();
  int64_t end = t0 + (int64_t)(seconds * 1e6);
  for (int i = 0; i < nslots; i++) {
    slots[i].fd = -1;
    start(&slots[i]);
  }
  for (;;) {
    int64_t now = mono_us();
    if (now >= end) break;
    int64_t wait_ms = (end - now) / 1000;
    int k = epoll_wait(epfd, evs, nslots, wait_ms < 10 ? (int)wait_ms + 1 : 10);
    if (k < 0 && errno != EINTR) {
      perror("httpload: epoll_wait");
      return 1;
    }
    for (int i = 0; i < k; i++) on_event(evs[i].data.ptr, evs[i].events, rbuf);
    /* Slots without a socket (socket or connect failed) retry after their pause; stuck requests time out. */
    now = mono_us();
    for (int i = 0; i < nslots; i++) {
      slot_t *s = &slots[i];
      if (s->fd < 0) {
        if (now >= s->retry_at_us) start(s);
      } else if (now - s->started_us > REQUEST_TIMEOUT_US) finish(s, E_TIMEOUT);
    }
  }
  double elapsed = (double)(mono_us() - t0) / 1e6;

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  uint64_t error_total = 0, ok = 0;
  for (int st = 200; st < 300; st++) ok += status_count[st];
  for (int e = 0; e < E_KINDS; e++) error_total += errors[e];
  printf("{\"requests\":%llu,\"seconds\":%.3f,\"requestsPerSecond\":%.1f,\"status\":{", (unsigned long long)requests, elapsed, (double)requests / elapsed);
  int first = 1;
  for (int st = 0; st < MAX_STATUS; st++) {
    if (!status_count[st]) continue;
    printf("%s\"%d\":%llu", first ? "" : ",", st, (unsigned long long)status_count[st]);
    first = 0;
  }
  printf("},\"status2xx\":%llu,\"statusOther\":%llu,\"errors\":%llu,\"errorKinds\":{", (unsigned long long)ok, (unsigned long long)(requests - ok),
         (unsigned long long)error_total);
  for (int e = 0; e < E_KINDS; e++) printf("%s\"%s\":%llu", e ? "," : "", error_names[e], (unsigned long long)errors[e]);
  printf("},\"bytes\":%llu,\"bytesSent\":%llu,\"latencyUs\":{\"p50\":%lld,\"p99\":%lld,\"p999\":%lld,\"max\":%lld},\"cpuSeconds\":%.3f}\n",
         (unsigned long long)bytes, (unsigned long long)bytes_sent, (long long)percentile(50), (long long)percentile(99), (long long)percentile(99.9), (long long)max_us, cpu);
  fflush(stdout);
  return 0;
}
