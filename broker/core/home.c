/* Loop mailboxes (home.h): a locked queue and a uv_async_t. */
#include "core/home.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/util.h"

typedef struct item {
  void (*fn)(void *);
  void *arg;
  struct item *next;
} item;

struct fb_home {
  uv_async_t async;
  uv_mutex_t mu;
  item *head, **tail;
  atomic_size_t holds;
  bool closing;
  void (*done)(void *);
  void *done_data;
};

static _Thread_local fb_home *current;

fb_home *fb_home_current(void) { return current; }

static void try_close(fb_home *h);

static void on_async(uv_async_t *a) {
  fb_home *h = fb_container_of(a, fb_home, async);
  uv_mutex_lock(&h->mu);
  item *it = h->head;
  h->head = NULL;
  h->tail = &h->head;
  uv_mutex_unlock(&h->mu);
  while (it) {
    item *next = it->next;
    it->fn(it->arg);
    free(it);
    it = next;
  }
  if (h->closing) try_close(h);
}

fb_home *fb_home_open(uv_loop_t *loop) {
  fb_home *h = fb_xcalloc(1, sizeof *h);
  uv_mutex_init(&h->mu);
  h->tail = &h->head;
  atomic_init(&h->holds, 0);
  uv_async_init(loop, &h->async, on_async); /* cannot fail on Linux */
  current = h;
  return h;
}

void fb_home_post(fb_home *h, void (*fn)(void *), void *arg) {
  item *it = fb_xmalloc(sizeof *it);
  it->fn = fn;
  it->arg = arg;
  it->next = NULL;
  uv_mutex_lock(&h->mu);
  *h->tail = it;
  h->tail = &it->next;
  uv_mutex_unlock(&h->mu);
  uv_async_send(&h->async);
}

void fb_home_hold(fb_home *h) { atomic_fetch_add(&h->holds, 1); }

void fb_home_release(fb_home *h) {
  atomic_fetch_sub(&h->holds, 1);
  if (h->closing && current == h) try_close(h);
}

size_t fb_home_held(fb_home *h) { return atomic_load(&h->holds); }

static void on_closed(uv_handle_t *handle) {
  fb_home *h = fb_container_of((uv_async_t *)handle, fb_home, async);
  void (*done)(void *) = h->done;
  void *data = h->done_data;
  uv_mutex_destroy(&h->mu);
  if (current == h) current = NULL;
  free(h);
  if (done) done(data);
}

static void try_close(fb_home *h) {
  if (atomic_load(&h->holds) != 0 || uv_is_closing((uv_handle_t *)&h->async)) return;
  uv_mutex_lock(&h->mu);
  bool empty = h->head == NULL;
  uv_mutex_unlock(&h->mu);
  if (!empty) return; /* on_async runs them, then tries again */
  uv_close((uv_handle_t *)&h->async, on_closed);
}

void fb_home_close(fb_home *h, void (*done)(void *), void *data) {
  h->closing = true;
  h->done = done;
  h->done_data = data;
  try_close(h);
}
