// loadgen: an epoll WebSocket load generator for the tickplant benchmarks, cheaper than the servers it measures.
//
// Build (the scenarios do it): gcc -O2 -o bench/.build/loadgen bench/loadgen/loadgen.c
// Run:   loadgen --port P --conns N --symbols A,B,C [--host 127.0.0.1] [--path /ws]
//                [--mode ws|sio] [--resolution none] [--interval-us U]
//
// Connection i subscribes to symbol i % nsymbols: `{"action":"subscribe","symbol":…}` (mode ws),
// or socket.io's engine.io v4 framing over WebSocket (mode sio: wait for `0{…}`, send `40`, wait
// for `40…`, send `42["subscribe","SYM"]`, answer ping `2` with `3`). All connections subscribe
// together once every one has connected; then it prints `ready <open>`, and obeys one command a line
// on stdin: `reset` (zero counters and histograms), `stats` (one short JSON line), `report`
// (counters and the latency histograms as JSON), `quit`.
//
// Per received frame it reads only the first bytes: `"type"`, `"epoch"`, `"seq"`, `"timestamp"`.
// An `orderbook_update` is one delivery; its seq must be the previous one + 1 within an epoch
// on that connection (else a gap, or a duplicate when it goes back); a `resync` or a snapshot
// restarts the count from its seq. Latency = arrival (CLOCK_REALTIME, read once per read())
// minus the frame's timestamp (ISO 8601, microseconds when the server writes them), in µs.
// A frame larger than the read buffer (a day of history) is skipped by byte count, not stored.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "histogram.h"

#define RBUF_BYTES (1 << 20)
#define MAX_PENDING_CONNECTS 256
#define HEAD_PARSE_BYTES 256

enum { ST_IDLE, ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_CLOSED };
enum { SIO_WAIT_OPEN, SIO_WAIT_CONNECT, SIO_SUBSCRIBED };

typedef struct {
  int fd;
  int state;
  int sio;
  int prepared; /* upgraded (and, for socket.io, connected): ready to subscribe */
  int sym;
  int64_t epoch;
  int64_t seq; /* last seq seen, 0 = none yet */
  char *left; /* an incomplete frame carried to the next read */
  uint32_t left_len, left_cap;
  uint64_t skip; /* bytes of an oversized frame still to skip */
  char hs[512]; /* the upgrade response until \r\n\r\n */
  uint32_t hs_len;
} conn_t;

static const char *host = "127.0.0.1", *path = "/ws", *resolution = NULL;
static int port = 0, nconns = 0, nsyms = 0, sio_mode = 0;
static int64_t interval_us = 0;
static char **syms;
static conn_t *conns;
static int epfd;
static char *rbuf;
static int64_t now_us;

static struct {
  uint64_t deliveries, bytes, frames, resyncs, gaps, dups, snapshots, historical, errors, other, closed, pings;
} c;
static uint64_t hist[HBUCKETS], hist_co[HBUCKETS];
static int next_to_connect = 0;
static int opened = 0, subscribed = 0, started = 0, ready_printed = 0, prepared = 0, failed = 0, all_subscribed = 0;

static void record(int64_t v) {
  hist[bucket_of(v)]++;
  hist_co[bucket_of(v)]++;
  /* HdrHistogram's coordinated-omission correction: the samples a stalled schedule would have taken. */
  if (interval_us > 0)
    for (int64_t m = v - interval_us; m >= interval_us; m -= interval_us) hist_co[bucket_of(m)]++;
}

static int64_t clock_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}
static int dig(const char *p, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) v = v * 10 + (p[i] - '0');
  return v;
}
/* `YYYY-MM-DDTHH:MM:SS.fffZ` or `.ffffffZ` → µs since the epoch; -1 if it does not look like that. */
static int64_t parse_iso_us(const char *p, const char *end) {
  if (end - p < 24 || p[4] != '-' || p[10] != 'T' || p[19] != '.') return -1;
  int64_t days = days_from_civil(dig(p, 4), (unsigned)dig(p + 5, 2), (unsigned)dig(p + 8, 2));
  int64_t s = days * 86400 + dig(p + 11, 2) * 3600 + dig(p + 14, 2) * 60 + dig(p + 17, 2);
  int64_t us = 0, scale = 100000;
  const char *q = p + 20;
  for (; q < end && *q >= '0' && *q <= '9'; q++, scale /= 10)
    if (scale > 0) us += (*q - '0') * scale;
  return s * 1000000 + us;
}

static const char *find(const char *h, const char *end, const char *needle, size_t n) {
  if (end - h < (long)n) return NULL;
  return memmem(h, (size_t)(end - h), needle, n);
}
static int64_t num_after(const char *h, const char *end, const char *key, size_t n) {
  const char *p = find(h, end, key, n);
  if (!p) return -1;
  p += n;
  int64_t v = 0;
  while (p < end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
  return v;
}

static void send_frame(conn_t *k, int opcode, const char *payload, size_t n) {
  char out[600];
  if (n > 500) return;
  size_t h = 2;
  out[0] = (char)(0x80 | opcode);
  if (n < 126) out[1] = (char)(0x80 | n);
  else {
    out[1] = (char)(0x80 | 126);
    out[2] = (char)(n >> 8);
    out[3] = (char)n;
    h = 4;
  }
  memset(out + h, 0, 4); /* a zero mask: legal, and the payload goes out unchanged */
  memcpy(out + h + 4, payload, n);
  /* Control-sized writes to a socket we read from continuously: never expected to block. */
  if (write(k->fd, out, h + 4 + n) < 0) c.errors++;
}

static void subscribe(conn_t *k) {
  char msg[256];
  int n;
  if (sio_mode) n = snprintf(msg, sizeof msg, "42[\"subscribe\",\"%s\"]", syms[k->sym]);
  else if (resolution) n = snprintf(msg, sizeof msg, "{\"action\":\"subscribe\",\"symbol\":\"%s\",\"resolution\":\"%s\"}", syms[k->sym], resolution);
  else n = snprintf(msg, sizeof msg, "{\"action\":\"subscribe\",\"symbol\":\"%s\"}", syms[k->sym]);
  send_frame(k, 1, msg, (size_t)n);
  subscribed++;
}

/* One complete text/binary message: classify it from its first bytes. */
static void on_message(conn_t *k, const char *p, size_t n) {
  const char *end = p + (n < HEAD_PARSE_BYTES ? n : HEAD_PARSE_BYTES);
  c.frames++;
  if (sio_mode) {
    if (n >= 1 && p[0] == '2' && n == 1) { send_frame(k, 1, "3", 1); c.pings++; return; }
    if (n >= 1 && p[0] == '0' && k->sio == SIO_WAIT_OPEN) { send_frame(k, 1, "40", 2); k->sio = SIO_WAIT_CONNECT; return; }
    if (n >= 2 && p[0] == '4' && p[1] == '0' && k->sio == SIO_WAIT_CONNECT) { k->sio = SIO_SUBSCRIBED; k->prepared = 1; prepared++; return; }
    if (n < 2 || p[0] != '4' || p[1] != '2') { c.other++; return; }
  }
  const char *t = find(p, end, "\"type\":\"", 8);
  if (!t) { c.other++; return; }
  t += 8;
  int64_t seq = num_after(t, end, "\"seq\":", 6);
  int64_t epoch = num_after(t, end, "\"epoch\":", 8);
  if (end - t >= 16 && memcmp(t, "orderbook_update", 16) == 0) {
    c.deliveries++;
    if (k->seq > 0 && epoch == k->epoch) {
      if (seq == k->seq + 1) {}
      else if (seq <= k->seq) c.dups++;
      else c.gaps++;
    } else if (k->seq > 0 && epoch != k->epoch) c.gaps++; /* a new epoch must come with a resync */
    k->seq = seq;
    k->epoch = epoch;
    const char *ts = find(t, end, "\"timestamp\":\"", 13);
    if (ts) {
      int64_t at = parse_iso_us(ts + 13, end);
      if (at > 0) record(now_us - at);
    }
  } else if (end - t >= 6 && memcmp(t, "resync", 6) == 0) {
    c.resyncs++;
    k->seq = seq;
    k->epoch = epoch;
  } else if (end - t >= 18 && memcmp(t, "orderbook_snapshot", 18) == 0) {
    c.snapshots++;
    k->seq = seq;
    k->epoch = epoch;
  } else if (end - t >= 15 && memcmp(t, "historical_data", 15) == 0) {
    c.historical++;
  } else c.other++;
}

static void close_conn(conn_t *k) {
  if (k->state == ST_CLOSED) return;
  if (k->state == ST_OPEN) opened--;
  else started--;
  if (!all_subscribed) { /* counted as done so `ready` still comes */
    if (k->prepared) prepared--;
    failed++;
  }
  k->state = ST_CLOSED;
  c.closed++;
  epoll_ctl(epfd, EPOLL_CTL_DEL, k->fd, NULL);
  close(k->fd);
}

/* Bytes of the frame at p (header + payload), or 0 if its header is not complete in avail. */
static uint64_t frame_len(const unsigned char *p, size_t avail, size_t *head) {
  if (avail < 2) return 0;
  uint64_t n = p[1] & 0x7f;
  if (n < 126) { *head = 2; return 2 + n; }
  if (n == 126) { if (avail < 4) return 0; *head = 4; return 4 + ((uint64_t)p[2] << 8 | p[3]); }
  if (avail < 10) return 0;
  uint64_t v = 0;
  for (int i = 2; i < 10; i++) v = v << 8 | p[i];
  *head = 10;
  return 10 + v;
}

static void on_frames(conn_t *k, char *buf, size_t len) {
  size_t pos = 0;
  while (pos < len && k->state == ST_OPEN) {
    if (k->skip > 0) {
      size_t take = len - pos < k->skip ? len - pos : (size_t)k->skip;
      k->skip -= take;
      pos += take;
      continue;
    }
    size_t head = 0;
    uint64_t total = frame_len((unsigned char *)buf + pos, len - pos, &head);
    if (total == 0) break;
    int opcode = buf[pos] & 0x0f;
    if (total > RBUF_BYTES / 2) {
      /* An oversized message (a day of history): classify it from its first bytes, skip the rest. */
      if (len - pos < head + 64) break; /* wait for enough of its start */
      on_message(k, buf + pos + head, len - pos - head);
      k->skip = total;
      continue;
    }
    if (len - pos < total) break;
    char *payload = buf + pos + head;
    size_t n = (size_t)total - head;
    if (opcode == 1 || opcode == 2) on_message(k, payload, n);
    else if (opcode == 9) send_frame(k, 10, payload, n);
    else if (opcode == 8) { close_conn(k); return; }
    pos += (size_t)total;
  }
  size_t rest = len - pos;
  if (rest > k->left_cap) {
    k->left_cap = (uint32_t)(rest * 2);
    k->left = realloc(k->left, k->left_cap);
  }
  memmove(k->left, buf + pos, rest);
  k->left_len = (uint32_t)rest;
}

/*
 * Subscribes every connection at once, after all have connected: a server already sending
 * to its first subscribers may be too busy to accept the rest (the `ws` baselines were).
 */
static void maybe_ready(void) {
  if (!all_subscribed && prepared + failed >= nconns && next_to_connect >= nconns) {
    all_subscribed = 1;
    for (int i = 0; i < nconns; i++)
      if (conns[i].state == ST_OPEN && conns[i].prepared) subscribe(&conns[i]);
  }
  if (all_subscribed && !ready_printed) {
    printf("ready %d\n", opened);
    fflush(stdout);
    ready_printed = 1;
  }
}

static void on_readable(conn_t *k) {
  if (k->state == ST_HANDSHAKE) {
    ssize_t r = read(k->fd, k->hs + k->hs_len, sizeof k->hs - 1 - k->hs_len);
    if (r <= 0) { if (r == 0 || errno != EAGAIN) { c.errors++; close_conn(k); } return; }
    k->hs_len += (uint32_t)r;
    k->hs[k->hs_len] = 0;
    char *e = strstr(k->hs, "\r\n\r\n");
    if (!e) { if (k->hs_len >= sizeof k->hs - 1) { c.errors++; close_conn(k); } return; }
    if (strncmp(k->hs, "HTTP/1.1 101", 12) != 0) {
      fprintf(stderr, "upgrade refused: %.60s\n", k->hs);
      c.errors++;
      close_conn(k);
      return;
    }
    k->state = ST_OPEN;
    opened++;
    started--;
    if (!sio_mode) { k->prepared = 1; prepared++; }
    size_t extra = k->hs_len - (size_t)(e + 4 - k->hs);
    if (extra > 0) { memcpy(rbuf, e + 4, extra); on_frames(k, rbuf, extra); }
    return;
  }
  size_t l = k->left_len;
  memcpy(rbuf, k->left, l);
  ssize_t r = read(k->fd, rbuf + l, RBUF_BYTES - l);
  if (r <= 0) {
    if (r == 0 || errno != EAGAIN) close_conn(k);
    return;
  }
  c.bytes += (uint64_t)r;
  now_us = clock_us();
  on_frames(k, rbuf, l + (size_t)r);
}

static struct sockaddr_in addr;

static void start_connects(void) {
  while (next_to_connect < nconns && started < MAX_PENDING_CONNECTS) {
    conn_t *k = &conns[next_to_connect];
    k->sym = next_to_connect % nsyms;
    k->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (k->fd < 0) { fprintf(stderr, "socket: %s (raise ulimit -n)\n", strerror(errno)); printf("failed socket\n"); fflush(stdout); exit(1); }
    int one = 1;
    setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(k->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
      fprintf(stderr, "connect: %s\n", strerror(errno));
      c.errors++;
      close(k->fd);
      k->state = ST_CLOSED;
      next_to_connect++;
      failed++; /* counted as done so ready is still printed */
      continue;
    }
    k->state = ST_CONNECTING;
    struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)next_to_connect };
    epoll_ctl(epfd, EPOLL_CTL_ADD, k->fd, &ev);
    next_to_connect++;
    started++;
  }
}

static void on_writable(conn_t *k, int idx) {
  int err = 0;
  socklen_t el = sizeof err;
  getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &el);
  if (err) { fprintf(stderr, "connect: %s\n", strerror(err)); c.errors++; close_conn(k); return; }
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   sio_mode ? "/socket.io/?EIO=4&transport=websocket" : path, host, port);
  if (write(k->fd, req, (size_t)n) != n) { c.errors++; close_conn(k); return; }
  k->state = ST_HANDSHAKE;
  struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)idx };
  epoll_ctl(epfd, EPOLL_CTL_MOD, k->fd, &ev);
}

static void print_hist(const char *name, uint64_t *h) {
  printf(",\"%s\":[", name);
  int first = 1;
  for (int i = 0; i < HBUCKETS; i++)
    if (h[i]) { printf("%s[%lld,%llu]", first ? "" : ",", (long long)value_of(i), (unsigned long long)h[i]); first = 0; }
  printf("]");
}

static void print_counters(void) {
  printf("{\"open\":%d,\"deliveries\":%llu,\"bytes\":%llu,\"frames\":%llu,\"resyncs\":%llu,\"gaps\":%llu,\"dups\":%llu,"
         "\"snapshots\":%llu,\"historical\":%llu,\"errors\":%llu,\"other\":%llu,\"closed\":%llu,\"pings\":%llu",
         opened, (unsigned long long)c.deliveries, (unsigned long long)c.bytes, (unsigned long long)c.frames,
         (unsigned long long)c.resyncs, (unsigned long long)c.gaps, (unsigned long long)c.dups,
         (unsigned long long)c.snapshots, (unsigned long long)c.historical, (unsigned long long)c.errors,
         (unsigned long long)c.other, (unsigned long long)c.closed, (unsigned long long)c.pings);
}

static char cmd[256];
static size_t cmd_len = 0;
static void on_stdin(void) {
  ssize_t r = read(0, cmd + cmd_len, sizeof cmd - 1 - cmd_len);
  if (r <= 0) exit(0); /* the scenario went away */
  cmd_len += (size_t)r;
  char *nl;
  while ((nl = memchr(cmd, '\n', cmd_len))) {
    *nl = 0;
    if (strcmp(cmd, "reset") == 0) {
      memset(&c, 0, sizeof c);
      memset(hist, 0, sizeof hist);
      memset(hist_co, 0, sizeof hist_co);
      printf("ok\n");
    } else if (strcmp(cmd, "stats") == 0) {
      print_counters();
      printf("}\n");
    } else if (strcmp(cmd, "report") == 0) {
      print_counters();
      print_hist("latencyUs", hist);
      print_hist("latencyCoUs", hist_co);
      printf("}\n");
    } else if (strcmp(cmd, "quit") == 0) exit(0);
    fflush(stdout);
    size_t used = (size_t)(nl + 1 - cmd);
    memmove(cmd, nl + 1, cmd_len - used);
    cmd_len -= used;
  }
}

/* Reads stdin only when it holds something (or was closed): it is looked at both when epoll
   reports it and between events (see main), and a blocking read with nothing to read would stop
   the generator until the next command. */
static void check_stdin(void) {
  struct pollfd in = { .fd = 0, .events = POLLIN };
  if (poll(&in, 1, 0) > 0) on_stdin();
}

int main(int argc, char **argv) {
  const char *symlist = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--host")) host = argv[i + 1];
    else if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--path")) path = argv[i + 1];
    else if (!strcmp(argv[i], "--conns")) nconns = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--symbols")) symlist = argv[i + 1];
    else if (!strcmp(argv[i], "--mode")) sio_mode = !strcmp(argv[i + 1], "sio");
    else if (!strcmp(argv[i], "--resolution")) resolution = argv[i + 1];
    else if (!strcmp(argv[i], "--interval-us")) interval_us = atoll(argv[i + 1]);
    else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
  }
  if (!port || nconns <= 0 || !symlist) { fprintf(stderr, "usage: loadgen --port P --conns N --symbols A,B [--mode ws|sio]\n"); return 2; }
  char *s = strdup(symlist);
  syms = calloc(strlen(s) + 1, sizeof *syms);
  for (char *t = strtok(s, ","); t; t = strtok(NULL, ",")) syms[nsyms++] = t;
  conns = calloc((size_t)nconns, sizeof *conns);
  rbuf = malloc(RBUF_BYTES);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, host, &addr.sin_addr);
  epfd = epoll_create1(0);
  struct epoll_event ev = { .events = EPOLLIN, .data.u32 = UINT32_MAX };
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
  start_connects();
  struct epoll_event evs[512];
  /* A generator that falls behind (a busy machine) has every socket readable with a full
     buffer: a batch of events is then hundreds of 1 MiB reads, seconds of CPU at a small share
     of a core, and stdin's turn in epoll's rotation comes only after many batches, so the
     scenario gives up waiting for an answer. Looked at every STDIN_EVERY events as well, a
     command waits for a few reads at most. */
  enum { STDIN_EVERY = 16 };
  for (;;) {
    int n = epoll_wait(epfd, evs, 512, 100);
    for (int i = 0; i < n; i++) {
      uint32_t id = evs[i].data.u32;
      if (id == UINT32_MAX) { check_stdin(); continue; }
      if (i % STDIN_EVERY == STDIN_EVERY - 1) check_stdin();
      conn_t *k = &conns[id];
      if (k->state == ST_CONNECTING && (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) on_writable(k, (int)id);
      else if (k->state == ST_HANDSHAKE || k->state == ST_OPEN) {
        if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(k);
      }
    }
    start_connects();
    maybe_ready();
  }
}
