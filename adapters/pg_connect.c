/* Host names of a postgres conninfo looked up on the thread pool (pg_connect.h). */
#include "adapters/pg_connect.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_HOSTS 16          /* entries of a host list handled here; libpq takes longer ones itself */
#define MAX_ADDRS 8           /* addresses kept per name, tried in getaddrinfo's order */

struct fb_pg_lookup {
  uv_getaddrinfo_t req;
  uv_loop_t *loop;
  PQconninfoOption *opts;
  const char *hosts, *ports;    /* borrowed from opts (or the environment) */
  char *entries[MAX_HOSTS];
  char *addrs[MAX_HOSTS];       /* see fb_pg_expand_hosts */
  size_t n, at;
  char error[200];              /* the first lookup that failed */
  fb_pg_started_cb done;
  void *data;
  bool abandoned;
};

/* Splits a comma-separated list into at most `max` malloc'd entries (empty ones kept);
 * returns how many, or max + 1 when there are more. */
static size_t split_list(const char *list, char **out, size_t max) {
  size_t n = 0;
  const char *p = list;
  for (;;) {
    size_t len = strcspn(p, ",");
    if (n == max) return max + 1;
    out[n++] = fb_xstrndup(p, len);
    if (!p[len]) return n;
    p += len + 1;
  }
}

static void free_list(char **v, size_t n) {
  for (size_t i = 0; i < n && i < MAX_HOSTS; i++) free(v[i]);
}

/* A socket directory, an abstract socket or an address: libpq needs no lookup. */
static bool needs_lookup(const char *h) {
  unsigned char buf[sizeof(struct in6_addr)];
  if (!h[0] || h[0] == '/' || h[0] == '@') return false;
  return inet_pton(AF_INET, h, buf) != 1 && inet_pton(AF_INET6, h, buf) != 1;
}

static void put_item(fb_buf *b, const char *s) {
  if (b->len) fb_buf_putc(b, ',');
  fb_buf_puts(b, s);
}

int fb_pg_expand_hosts(const char *hosts, const char *ports, const char *const *addrs, size_t naddrs, fb_buf *host,
                       fb_buf *hostaddr, fb_buf *port) {
  char *entries[MAX_HOSTS], *plist[MAX_HOSTS];
  size_t n = split_list(hosts, entries, MAX_HOSTS);
  size_t np = ports && *ports ? split_list(ports, plist, MAX_HOSTS) : 0;
  size_t kept = 0;
  bool per_host = np == n && n > 1;
  /* hostaddr items may be empty, so its separators are written by position. */
  for (size_t i = 0; i < n && i < MAX_HOSTS; i++) {
    const char *a = i < naddrs ? addrs[i] : NULL;
    const char *p = per_host ? plist[i] : NULL;
    if (a && !a[0]) continue; /* did not resolve */
    const char *at = a ? a : "";
    do {
      size_t len = a ? strcspn(at, ",") : 0;
      if (kept) {
        fb_buf_putc(host, ',');
        fb_buf_putc(hostaddr, ',');
      }
      fb_buf_puts(host, entries[i]);
      fb_buf_append(hostaddr, at, len);
      if (p) put_item(port, p);
      kept++;
      at += len;
    } while (a && *at++ == ',');
  }
  if (np && !per_host) fb_buf_puts(port, ports); /* one port for all, or a list libpq will judge */
  free_list(entries, n);
  free_list(plist, np);
  return kept ? 0 : -1;
}

static const char *opt_value(const PQconninfoOption *o, const char *key) {
  for (; o->keyword; o++)
    if (strcmp(o->keyword, key) == 0) return o->val;
  return NULL;
}

static void lookup_free(fb_pg_lookup *l) {
  free_list(l->entries, l->n);
  for (size_t i = 0; i < l->n; i++) free(l->addrs[i]);
  PQconninfoFree(l->opts);
  free(l);
}

/* Every name has been looked up: the connection starts with the addresses. */
static void finish(fb_pg_lookup *l) {
  fb_buf host = {0}, hostaddr = {0}, port = {0};
  PGconn *conn = NULL;
  if (fb_pg_expand_hosts(l->hosts, l->ports, (const char *const *)l->addrs, l->n, &host, &hostaddr, &port) == 0) {
    size_t nopts = 0;
    for (const PQconninfoOption *o = l->opts; o->keyword; o++) nopts++;
    const char **kw = fb_xcalloc(nopts + 4, sizeof *kw), **val = fb_xcalloc(nopts + 4, sizeof *val);
    size_t k = 0;
    for (const PQconninfoOption *o = l->opts; o->keyword; o++) {
      if (!o->val || !strcmp(o->keyword, "host") || !strcmp(o->keyword, "hostaddr") || !strcmp(o->keyword, "port"))
        continue;
      kw[k] = o->keyword;
      val[k++] = o->val;
    }
    kw[k] = "host";
    val[k++] = host.data;
    kw[k] = "hostaddr";
    val[k++] = hostaddr.data ? hostaddr.data : "";
    if (port.len) {
      kw[k] = "port";
      val[k++] = port.data;
    }
    conn = PQconnectStartParams(kw, val, 0);
    free(kw);
    free(val);
  }
  fb_buf_free(&host);
  fb_buf_free(&hostaddr);
  fb_buf_free(&port);
  fb_pg_started_cb done = l->done;
  void *data = l->data;
  char why[sizeof l->error];
  snprintf(why, sizeof why, "%s", l->error[0] ? l->error : "cannot resolve the postgres host");
  lookup_free(l);
  done(data, conn, conn ? NULL : why);
}

static void on_addrinfo(uv_getaddrinfo_t *req, int status, struct addrinfo *res);

/* Looks up the next name from l->at; finishes when none is left. */
static void next_lookup(fb_pg_lookup *l) {
  for (; l->at < l->n; l->at++) {
    if (!needs_lookup(l->entries[l->at])) continue;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
    int rc = uv_getaddrinfo(l->loop, &l->req, on_addrinfo, l->entries[l->at], NULL, &hints);
    if (rc == 0) return;
    l->addrs[l->at] = fb_xstrdup("");
    if (!l->error[0])
      snprintf(l->error, sizeof l->error, "cannot resolve %s: %s", l->entries[l->at], uv_strerror(rc));
  }
  finish(l);
}

static bool in_list(const char *list, const char *item) {
  size_t len = strlen(item);
  while (list && *list) {
    size_t n = strcspn(list, ",");
    if (n == len && strncmp(list, item, len) == 0) return true;
    list += n;
    if (*list) list++;
  }
  return false;
}

static void on_addrinfo(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  fb_pg_lookup *l = fb_container_of(req, fb_pg_lookup, req);
  if (l->abandoned) {
    uv_freeaddrinfo(res);
    lookup_free(l);
    return;
  }
  fb_buf list = {0};
  size_t kept = 0;
  for (struct addrinfo *ai = status == 0 ? res : NULL; ai && kept < MAX_ADDRS; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN];
    const void *addr = ai->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                                                 : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
    if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) || !inet_ntop(ai->ai_family, addr, text, sizeof text))
      continue;
    if (in_list(list.data, text)) continue; /* one per address */
    put_item(&list, text);
    kept++;
  }
  uv_freeaddrinfo(res);
  if (!kept && !l->error[0])
    snprintf(l->error, sizeof l->error, "cannot resolve %s: %s", l->entries[l->at],
             status ? uv_strerror(status) : "no address");
  l->addrs[l->at] = kept ? fb_buf_steal(&list) : fb_xstrdup("");
  fb_buf_free(&list);
  l->at++;
  next_lookup(l);
}

int fb_pg_connect_start(uv_loop_t *loop, const char *conninfo, fb_pg_started_cb done, void *data, PGconn **conn,
                        fb_pg_lookup **lookup) {
  *conn = NULL;
  *lookup = NULL;
  PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
  const char *hostaddr = opts ? opt_value(opts, "hostaddr") : NULL;
  const char *hosts = opts ? opt_value(opts, "host") : NULL;
  if (!hosts || !*hosts) hosts = getenv("PGHOST");
  fb_pg_lookup *l = NULL;
  if (opts && !(hostaddr && *hostaddr) && hosts && *hosts) {
    l = fb_xcalloc(1, sizeof *l);
    l->n = split_list(hosts, l->entries, MAX_HOSTS);
    bool any = false;
    for (size_t i = 0; i < l->n && l->n <= MAX_HOSTS; i++) any |= needs_lookup(l->entries[i]);
    if (!any || l->n > MAX_HOSTS) {
      l->opts = NULL;
      lookup_free(l);
      l = NULL;
    }
  }
  if (!l) { /* nothing to look up: libpq connects to what it was given */
    PQconninfoFree(opts);
    *conn = PQconnectStart(conninfo);
    return 0;
  }
  l->loop = loop;
  l->opts = opts;
  l->hosts = hosts;
  l->ports = opt_value(opts, "port");
  l->done = done;
  l->data = data;
  for (; l->at < l->n && !needs_lookup(l->entries[l->at]); l->at++) {}
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
  if (uv_getaddrinfo(loop, &l->req, on_addrinfo, l->entries[l->at], NULL, &hints) != 0) {
    lookup_free(l); /* the pool refused: let libpq look it up itself, as before */
    *conn = PQconnectStart(conninfo);
    return 0;
  }
  *lookup = l;
  return 1;
}

void fb_pg_lookup_abandon(fb_pg_lookup *l) { l->abandoned = true; }
