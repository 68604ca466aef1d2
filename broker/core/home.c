/* Loop mailboxes (home.h): a locked queue and a uv_async_t; and a uv_prepare_t for the
 * calls asked to run before the loop waits. */
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

#define BEFORE_WAIT_MAX 8

struct fb_home {
  uv_async_t async;
  uv_prepare_t prepare;       /* started while `before` holds calls */
  struct {
    void (*fn)(void *);
    void *arg;
  } before[BEFORE_WAIT_MAX];  /* the home's thread only */
  size_t nbefore;
  int open_handles;
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

static void on_prepare(uv_prepare_t *p) {
  fb_home *h = fb_container_of(p, fb_home, prepare);
  uv_prepare_stop(p);
  size_t n = h->nbefore;
  h->nbefore = 0;
  for (size_t i = 0; i < n; i++) h->before[i].fn(h->before[i].arg); /* may ask again: next time */
}

void fb_home_before_wait(fb_home *h, void (*fn)(void *), void *arg) {
  for (size_t i = 0; i < h->nbefore; i++)
    if (h->before[i].fn == fn && h->before[i].arg == arg) return;
  if (h->nbefore == BEFORE_WAIT_MAX) { /* more services than expected: run it now */
    fn(arg);
    return;
  }
  h->before[h->nbefore].fn = fn;
  h->before[h->nbefore].arg = arg;
  if (h->nbefore++ == 0) uv_prepare_start(&h->prepare, on_prepare);
}

fb_home *fb_home_open(uv_loop_t *loop) {
  fb_home *h = fb_xcalloc(1, sizeof *h);
  uv_mutex_init(&h->mu);
  h->tail = &h->head;
  atomic_init(&h->holds, 0);
  uv_async_init(loop, &h->async, on_async); /* cannot fail on Linux */
  uv_prepare_init(loop, &h->prepare);
  h->open_handles = 2;
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
  fb_home *h = handle->data;
  if (--h->open_handles > 0) return;
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
  if (h->nbefore) on_prepare(&h->prepare); /* what was asked still runs */
  h->async.data = h->prepare.data = h;
  uv_close((uv_handle_t *)&h->async, on_closed);
  uv_close((uv_handle_t *)&h->prepare, on_closed);
}

void fb_home_close(fb_home *h, void (*done)(void *), void *data) {
  h->closing = true;
  h->done = done;
  h->done_data = data;
  try_close(h);
}
