/* The database handle pool: one sqlite handle per concurrent worker, opened at start
 * so that no search pays for an open, guarded by a mutex and a condition variable. */
#include <stdlib.h>

#include "core/util.h"
#include "node/internal.h"

struct fb_node_pool {
  uv_mutex_t mu;
  uv_cond_t cv;
  fb_sqlite_db **free_dbs;   /* stack of idle handles */
  size_t nfree;
  size_t n;                  /* handles opened */
};

int node_pool_open(const char *path, unsigned n, fb_node_pool **out, char **err) {
  fb_node_pool *p = fb_xcalloc(1, sizeof *p);
  p->free_dbs = fb_xcalloc(n, sizeof *p->free_dbs);
  for (unsigned i = 0; i < n; i++) {
    if (fb_sqlite_db_open(path, &p->free_dbs[i], err) != 0) {
      p->nfree = p->n = i;
      for (size_t j = 0; j < p->n; j++) fb_sqlite_db_close(p->free_dbs[j]);
      free(p->free_dbs);
      free(p);
      return -1;
    }
  }
  p->nfree = p->n = n;
  uv_mutex_init(&p->mu);
  uv_cond_init(&p->cv);
  *out = p;
  return 0;
}

fb_sqlite_db *node_pool_acquire(fb_node_pool *p) {
  uv_mutex_lock(&p->mu);
  while (p->nfree == 0) uv_cond_wait(&p->cv, &p->mu);
  fb_sqlite_db *db = p->free_dbs[--p->nfree];
  uv_mutex_unlock(&p->mu);
  return db;
}

void node_pool_release(fb_node_pool *p, fb_sqlite_db *db) {
  uv_mutex_lock(&p->mu);
  p->free_dbs[p->nfree++] = db;
  uv_cond_signal(&p->cv);
  uv_mutex_unlock(&p->mu);
}

void node_pool_close(fb_node_pool *p) {
  if (!p) return;
  for (size_t i = 0; i < p->nfree; i++) fb_sqlite_db_close(p->free_dbs[i]);
  uv_cond_destroy(&p->cv);
  uv_mutex_destroy(&p->mu);
  free(p->free_dbs);
  free(p);
}
