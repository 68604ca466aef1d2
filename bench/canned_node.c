/* canned_node: a national node for the benchmarks that costs next to nothing.
 *
 * The load benchmarks run the hub and its national nodes on the same few cores; four
 * `fedbroker node` processes answering ten records each cost more CPU per search than
 * the hub, so the hub is never the bottleneck and the effect of its workers cannot show.
 * This server answers every POST to one path with the bytes of one file: the answer a
 * real node gave to the same search, captured once by the script (bench/lib.sh,
 * canned_nodes_start). It speaks HTTP/1.1 with keep-alive (what the hub's http
 * adapter speaks over http://), answers requests in the order they came (pipelining
 * included), and can hold each answer back for a fixed delay so that many searches are
 * in flight at once (bench/rss_bench.sh).
 *
 *   canned_node --listen HOST:PORT --answer FILE [--path /search] [--delay-ms N]
 *
 * POST to --path: 200 with FILE's bytes (Content-Type: application/json).
 * GET /healthz: 200 {}. Anything else: 404. A request that is not HTTP/1.x: the
 * connection is closed. With --delay-ms every reply is held back that long. The request body is read and ignored: the script sends one
 * search only, and checks what the hub makes of the canned answers before it measures.
 *
 * libuv and http-parser, both dependencies of the hub already. A benchmark tool, not
 * part of the product: it is built by bench/bench.cmake and installed nowhere. */
#include <errno.h>
#include <http_parser.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define URL_MAX 64

typedef struct conn {
  uv_tcp_t tcp;
  http_parser parser;
  bool closing;
  char url[URL_MAX];   /* the request's URL; url_len > URL_MAX once it is too long */
  size_t url_len;
  unsigned pending;    /* replies and the close callback that still point here */
} conn;

/* One answer on its way: held back by its timer (with --delay-ms), then written. */
typedef struct reply {
  uv_timer_t timer;
  uv_write_t write;
  conn *c;
  uv_buf_t buf;
  bool keep_alive;
} reply;

static char *answer_msg; /* the whole 200 answer: head and the file's bytes */
static size_t answer_len;
static const char *answer_path = "/search";
static uint64_t delay_ms;
static http_parser_settings settings;

static const char health_msg[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
static const char missing_msg[] =
    "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n"
    "{\"error\":\"not found\"}";

static void conn_release(conn *c) {
  c->pending--;
  if (c->closing && c->pending == 0) free(c);
}

static void on_closed(uv_handle_t *h) { conn_release(h->data); }

static void conn_close(conn *c) {
  if (c->closing) return;
  c->closing = true;
  c->pending++; /* the close callback */
  uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_timer_closed(uv_handle_t *h) {
  reply *r = h->data;
  conn *c = r->c;
  free(r);
  conn_release(c);
}

static void reply_free(reply *r) {
  if (delay_ms) {
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
  } else {
    conn *c = r->c;
    free(r);
    conn_release(c);
  }
}

static void on_written(uv_write_t *w, int status) {
  reply *r = w->data;
  if (status < 0 || !r->keep_alive) conn_close(r->c);
  reply_free(r);
}

static void send_reply(reply *r) {
  conn *c = r->c;
  if (c->closing) { /* the client went away while the answer was held back */
    reply_free(r);
    return;
  }
  r->write.data = r;
  if (uv_write(&r->write, (uv_stream_t *)&c->tcp, &r->buf, 1, on_written) != 0) {
    conn_close(c);
    reply_free(r);
  }
}

static void on_delay(uv_timer_t *t) { send_reply(t->data); }

static int on_message_begin(http_parser *p) {
  conn *c = p->data;
  c->url_len = 0;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  if (c->url_len + len > URL_MAX) {
    c->url_len = URL_MAX + 1;
    return 0;
  }
  memcpy(c->url + c->url_len, at, len);
  c->url_len += len;
  return 0;
}

static bool url_is(const conn *c, const char *path) {
  return c->url_len == strlen(path) && memcmp(c->url, path, c->url_len) == 0;
}

/* Replies go out in the order the requests came: written at once, or every one held
 * back by the same delay (libuv runs timers of equal timeout in the order started). */
static int on_message_complete(http_parser *p) {
  conn *c = p->data;
  reply *r = calloc(1, sizeof *r);
  if (!r) return -1;
  r->c = c;
  r->keep_alive = http_should_keep_alive(p) != 0;
  if (p->method == HTTP_POST && url_is(c, answer_path)) {
    r->buf = uv_buf_init(answer_msg, (unsigned)answer_len);
  } else if (p->method == HTTP_GET && url_is(c, "/healthz")) {
    r->buf = uv_buf_init((char *)(uintptr_t)health_msg, sizeof health_msg - 1);
  } else {
    r->buf = uv_buf_init((char *)(uintptr_t)missing_msg, sizeof missing_msg - 1);
  }
  c->pending++;
  if (delay_ms) {
    uv_timer_init(c->tcp.loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, on_delay, delay_ms, 0);
  } else {
    send_reply(r);
  }
  return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  static char slab[65536]; /* one loop, one read at a time: parsed before the next read */
  *buf = uv_buf_init(slab, sizeof slab);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  conn *c = s->data;
  if (n < 0) {
    conn_close(c);
    return;
  }
  if (n == 0) return;
  size_t used = http_parser_execute(&c->parser, &settings, buf->base, (size_t)n);
  if (c->parser.http_errno != HPE_OK || used != (size_t)n) conn_close(c);
}

static void on_connection(uv_stream_t *server, int status) {
  if (status < 0) return;
  conn *c = calloc(1, sizeof *c);
  if (!c) return;
  uv_tcp_init(server->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static int load_answer(const char *file) {
  FILE *f = fopen(file, "rb");
  if (!f) {
    fprintf(stderr, "canned_node: %s: %s\n", file, strerror(errno));
    return -1;
  }
  char *body = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      cap = cap ? cap * 2 : 65536;
      char *grown = realloc(body, cap);
      if (!grown) break;
      body = grown;
    }
    size_t got = fread(body + len, 1, cap - len, f);
    if (got == 0) break;
    len += got;
  }
  bool bad = ferror(f) != 0 || !body;
  fclose(f);
  if (bad || len == 0) {
    fprintf(stderr, "canned_node: %s: empty or unreadable\n", file);
    free(body);
    return -1;
  }
  char head[160];
  int hl = snprintf(head, sizeof head,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", len);
  answer_len = (size_t)hl + len;
  answer_msg = malloc(answer_len);
  if (!answer_msg) {
    free(body);
    return -1;
  }
  memcpy(answer_msg, head, (size_t)hl);
  memcpy(answer_msg + hl, body, len);
  free(body);
  return 0;
}

static int usage(void) {
  fprintf(stderr, "usage: canned_node --listen HOST:PORT --answer FILE [--path /search] [--delay-ms N]\n");
  return 2;
}

int main(int argc, char **argv) {
  const char *listen = NULL, *file = NULL;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) return usage();
    if (strcmp(argv[i], "--listen") == 0) listen = argv[++i];
    else if (strcmp(argv[i], "--answer") == 0) file = argv[++i];
    else if (strcmp(argv[i], "--path") == 0) answer_path = argv[++i];
    else if (strcmp(argv[i], "--delay-ms") == 0) {
      char *end;
      errno = 0;
      unsigned long long v = strtoull(argv[++i], &end, 10);
      if (errno || *end || v > 600000) return usage();
      delay_ms = v;
    } else return usage();
  }
  if (!listen || !file || answer_path[0] != '/') return usage();
  if (load_answer(file) != 0) return 1;

  char host[256];
  const char *colon = strrchr(listen, ':');
  if (!colon || (size_t)(colon - listen) >= sizeof host) return usage();
  memcpy(host, listen, (size_t)(colon - listen));
  host[colon - listen] = '\0';
  struct sockaddr_in addr;
  if (uv_ip4_addr(host, atoi(colon + 1), &addr) != 0) return usage();

  settings.on_message_begin = on_message_begin;
  settings.on_url = on_url;
  settings.on_message_complete = on_message_complete;

  uv_loop_t *loop = uv_default_loop();
  uv_tcp_t server;
  uv_tcp_init(loop, &server);
  int rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&server, 4096, on_connection);
  if (rc != 0) {
    fprintf(stderr, "canned_node: %s: %s\n", listen, uv_strerror(rc));
    return 1;
  }
  return uv_run(loop, UV_RUN_DEFAULT);
}
