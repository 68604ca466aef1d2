/* Starting a libpq connection without resolving host names on the loop.
 *
 * libpq resolves `host` with a blocking getaddrinfo inside PQconnectPoll. Here every
 * named host of the conninfo is looked up first with uv_getaddrinfo (on the libuv
 * thread pool), one after another, and the connection is then started with `hostaddr`
 * set, so libpq connects to the addresses without a lookup and keeps `host` for TLS
 * verification and the password file. A conninfo that gives `hostaddr` itself, or
 * whose hosts are all addresses or socket directories, starts at once. Internal to
 * adapters/ (the postgres kind). */
#ifndef FB_ADAPTERS_PG_CONNECT_H
#define FB_ADAPTERS_PG_CONNECT_H

#include <libpq-fe.h>
#include <uv.h>

#include "core/util.h"

typedef struct fb_pg_lookup fb_pg_lookup;

/* On the loop: `conn` started with PQconnectStartParams (check PQstatus), or NULL with
 * `why` (a sentence, borrowed for the call) when no host could be resolved. */
typedef void (*fb_pg_started_cb)(void *data, PGconn *conn, const char *why);

/* Returns 0 with *conn (PQconnectStart; may be NULL when out of memory) when nothing
 * needs a lookup, or 1 with *lookup when names are being looked up: `done` runs later,
 * exactly once, unless the lookup is abandoned. */
int fb_pg_connect_start(uv_loop_t *loop, const char *conninfo, fb_pg_started_cb done, void *data, PGconn **conn,
                        fb_pg_lookup **lookup);

/* `done` will not run; the lookup frees itself when its getaddrinfo returns. */
void fb_pg_lookup_abandon(fb_pg_lookup *l);

/* The host, hostaddr and port lists for PQconnectStartParams. `hosts` and `ports` are the
 * conninfo's comma-separated lists (`ports` may be NULL, one port for all, or one per
 * host). addrs[i] is host entry i's addresses, comma-separated, NULL for an entry that
 * needed no lookup (an address or a socket directory: kept, with an empty hostaddr), or
 * "" for a name that did not resolve (left out). A name with k addresses appears k times
 * in `host`, beside each address in `hostaddr`, and its port k times in `port`. Returns
 * 0, or -1 when no entry is left. */
int fb_pg_expand_hosts(const char *hosts, const char *ports, const char *const *addrs, size_t naddrs, fb_buf *host,
                       fb_buf *hostaddr, fb_buf *port);

#endif
