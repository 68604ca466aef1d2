/* HTTP/2 sessions on nghttp2 (server side): one fb_request per stream, limits on the
 * header block and body, bounded output, GOAWAY on shutdown. nghttp2's own flood
 * protections (SETTINGS, PING, RST_STREAM) stay at their defaults; floods of the
 * frames it accepts without limit (WINDOW_UPDATE, PRIORITY, empty DATA) are counted
 * here per second and end the connection with GOAWAY ENHANCE_YOUR_CALM. Stream ids
 * that go backwards, which nghttp2 leaves to its user, are a connection error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "core/log.h"
#include "net/internal.h"

/* Stop asking nghttp2 for more frames while this much waits on the socket. */
#define SEND_HIGH_WATER (256u << 10)
/* Client stream ids remembered to tell a closed stream from one never opened. */
#define OPENED_RING 64

struct net_h2 {
  net_conn *conn;
  nghttp2_session *session;
  size_t active;           /* dispatched streams not yet finished */
  fb_request *reqs;        /* every open stream's request (nghttp2 cannot list them) */
  bool sending;
  bool receiving;          /* inside nghttp2_session_mem_recv: send once afterwards */
  bool terminated;         /* a connection error was found: send the GOAWAY, then close */
  fb_buf out;              /* frames of a nested h2_send (see there) */
  fb_buf *gather;          /* during h2_send: where its frames go (send_data too) */
  int32_t max_stream;      /* highest client stream id nghttp2 has begun HEADERS for */
  /* The frame splitter in front of nghttp2 (scan_frames). */
  size_t scan_preface;     /* preface bytes still to skip */
  uint8_t scan_hdr[9];
  unsigned scan_nhdr;
  uint32_t scan_payload;   /* payload bytes of the current frame still to skip */
  int32_t scan_max;        /* highest client stream id seen in a HEADERS frame */
  int32_t opened[OPENED_RING]; /* the latest client stream ids that began requests */
  unsigned nopened;
  uint64_t flood_window;   /* start (loop ms) of the current one-second window */
  uint32_t flood_count;    /* control frames counted in it */
};

static void h2_send(net_h2 *h);

static fb_request *stream_req(nghttp2_session *s, int32_t id) {
  return nghttp2_session_get_stream_user_data(s, id);
}

/* Ends the session with GOAWAY(code); the caller returns NGHTTP2_ERR_CALLBACK_FAILURE
 * so nghttp2 stops reading, and net_h2_feed sends the GOAWAY before closing. */
static int connection_error(net_h2 *h, uint32_t code, const char *why) {
  fb_debug("h2_connection_error", "%s: %s", h->conn->peer, why);
  nghttp2_session_terminate_session(h->session, code);
  h->terminated = true;
  return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static bool was_opened(const net_h2 *h, int32_t id) {
  unsigned n = h->nopened < OPENED_RING ? h->nopened : OPENED_RING;
  for (unsigned i = 0; i < n; i++)
    if (h->opened[i] == id) return true;
  /* Older than what the ring remembers: cannot tell, so nghttp2's rules apply. */
  return h->nopened >= OPENED_RING && id < h->opened[h->nopened % OPENED_RING];
}

/* HEADERS that would open a stream below one already opened (RFC 9113 5.1.1); in
 * nghttp2's order of events, so trailers on a stream still open pass. nghttp2 only
 * ignores such a block. */
static int on_begin_frame(nghttp2_session *s, const nghttp2_frame_hd *hd, void *ud) {
  net_h2 *h = ud;
  int32_t id = hd->stream_id;
  if (hd->type != NGHTTP2_HEADERS || id <= 0 || !(id & 1)) return 0;
  if (id < h->max_stream && !nghttp2_session_find_stream(s, id))
    return connection_error(h, NGHTTP2_PROTOCOL_ERROR, "HEADERS on a stream id lower than one already used");
  if (id > h->max_stream) h->max_stream = id;
  return 0;
}

/* Looks at one frame header as the bytes arrive, before nghttp2 (which does not report
 * the frames it ignores): DATA on a stream id that was skipped, and the per-second
 * count of frames that cost work but carry nothing. Returns 0 or an error code. */
static uint32_t check_frame_header(net_h2 *h, const uint8_t hdr[9]) {
  uint32_t length = (uint32_t)hdr[0] << 16 | (uint32_t)hdr[1] << 8 | hdr[2];
  uint8_t type = hdr[3], flags = hdr[4];
  int32_t id = (int32_t)(((uint32_t)hdr[5] << 24 | (uint32_t)hdr[6] << 16 | (uint32_t)hdr[7] << 8 | hdr[8]) & 0x7fffffffu);
  if (type == NGHTTP2_HEADERS && (id & 1) && id > h->scan_max) {
    h->scan_max = id;
    h->opened[h->nopened++ % OPENED_RING] = id;
  }
  if (type == NGHTTP2_DATA && (id & 1) && id < h->scan_max && !was_opened(h, id)) {
    fb_debug("h2_connection_error", "%s: DATA on stream %d, which was never opened", h->conn->peer, id);
    return NGHTTP2_PROTOCOL_ERROR;
  }
  bool control = type == NGHTTP2_WINDOW_UPDATE || type == NGHTTP2_PRIORITY ||
                 (type == NGHTTP2_DATA && length == 0 && !(flags & NGHTTP2_FLAG_END_STREAM));
  if (!control) return 0;
  uint64_t now = uv_now(h->conn->srv->loop);
  if (now - h->flood_window >= 1000) {
    h->flood_window = now;
    h->flood_count = 0;
  }
  if (++h->flood_count <= h->conn->srv->cfg->limits.control_frames) return 0;
  fb_series_add(h->conn->srv->m_calm, 1);
  fb_info("h2_flood", "%s: over %u WINDOW_UPDATE/PRIORITY/empty DATA frames in a second; closing", h->conn->peer,
          h->conn->srv->cfg->limits.control_frames);
  return NGHTTP2_ENHANCE_YOUR_CALM;
}

/* Splits the input at frame headers. Returns how many bytes may go to nghttp2: all of
 * them, or up to the start of a frame that breaks a rule (*code is then set). */
static size_t scan_frames(net_h2 *h, const uint8_t *d, size_t len, uint32_t *code) {
  size_t i = 0;
  *code = 0;
  while (i < len) {
    if (h->scan_preface) {
      size_t n = len - i < h->scan_preface ? len - i : h->scan_preface;
      h->scan_preface -= n;
      i += n;
    } else if (h->scan_payload) {
      size_t n = len - i < h->scan_payload ? len - i : h->scan_payload;
      h->scan_payload -= (uint32_t)n;
      i += n;
    } else {
      h->scan_hdr[h->scan_nhdr++] = d[i++];
      if (h->scan_nhdr < 9) continue;
      h->scan_nhdr = 0;
      h->scan_payload = (uint32_t)h->scan_hdr[0] << 16 | (uint32_t)h->scan_hdr[1] << 8 | h->scan_hdr[2];
      if ((*code = check_frame_header(h, h->scan_hdr)) != 0) return i >= 9 ? i - 9 : 0;
    }
  }
  return len;
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  net_h2 *h = ud;
  if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  fb_request *req = net_request_new(h->conn, 2);
  req->stream_id = f->hd.stream_id;
  req->next = h->reqs;
  h->reqs = req;
  nghttp2_session_set_stream_user_data(s, f->hd.stream_id, req);
  return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud) {
  (void)flags;
  net_h2 *h = ud;
  if (f->hd.type != NGHTTP2_HEADERS) return 0;
  fb_request *req = stream_req(s, f->hd.stream_id);
  if (!req || req->headers_too_large) return 0;
  req->header_bytes += nlen + vlen + 32; /* the HPACK accounting of RFC 7541 4.1 */
  if (req->header_bytes > h->conn->srv->cfg->limits.header) {
    req->headers_too_large = true;
    return 0;
  }
  /* Pseudo-headers may come in any order; each is stored once. */
  if (nlen == 7 && memcmp(name, ":method", 7) == 0 && !req->has_method) {
    net_request_set_method(req, (const char *)value, vlen);
    req->has_method = true;
    return 0;
  }
  if (nlen == 5 && memcmp(name, ":path", 5) == 0 && !req->has_path) {
    net_request_set_target(req, (const char *)value, vlen);
    req->has_path = true;
    return 0;
  }
  if (nlen > 0 && name[0] == ':') return 0; /* :scheme, :authority */
  net_request_add_header(req, (const char *)name, nlen, (const char *)value, vlen);
  return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud) {
  (void)flags;
  net_h2 *h = ud;
  fb_request *req = stream_req(s, id);
  if (!req || req->body_too_large || req->headers_sent) return 0;
  if (req->body.len + len > h->conn->srv->cfg->limits.body) {
    req->body_too_large = true; /* keep reading (flow control) but store nothing more */
    fb_buf_free(&req->body);
    return 0;
  }
  fb_buf_append(&req->body, data, len);
  return 0;
}

static void answer_or_dispatch(net_h2 *h, fb_request *req) {
  if (req->dispatched || req->headers_sent) return;
  if (req->headers_too_large) {
    fb_respond_error(req, 431, "header_too_large", "The request's header block is too large.", NULL);
  } else if (req->body_too_large) {
    fb_respond_error(req, 413, "payload_too_large", "The request body is too large.", NULL);
  } else if (!req->has_method || !req->has_path) {
    fb_respond_error(req, 400, "bad_request", "The request has no :method or :path.", NULL);
  } else {
    h->active++;
    net_conn_timer_stop(h->conn);
    net_request_dispatch(req);
  }
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  net_h2 *h = ud;
  if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) return 0;
  fb_request *req = stream_req(s, f->hd.stream_id);
  if (!req) return 0;
  if (f->hd.type == NGHTTP2_HEADERS && req->headers_too_large) answer_or_dispatch(h, req);
  else if (f->hd.flags & NGHTTP2_FLAG_END_STREAM) answer_or_dispatch(h, req);
  return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t error_code, void *ud) {
  (void)error_code;
  net_h2 *h = ud;
  fb_request *req = stream_req(s, id);
  if (!req) return 0;
  nghttp2_session_set_stream_user_data(s, id, NULL);
  for (fb_request **p = &h->reqs; *p; p = &(*p)->next)
    if (*p == req) {
      *p = req->next;
      break;
    }
  if (req->dispatched) {
    h->active--;
    net_request_complete(req, !req->finished || req->resp_off < req->resp_body.len);
    if (h->active == 0 && !h->conn->closing) net_conn_timer_idle(h->conn);
  } else {
    net_request_free(req);
  }
  return 0;
}

/* A DATA frame's payload is not copied into nghttp2's buffer (NO_COPY): send_data
 * appends it straight from the response body to the connection's output, one copy of
 * the answer instead of two. read_body only sizes the frame and sets END_STREAM. */
static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *ud) {
  (void)s;
  (void)id;
  (void)buf;
  (void)ud;
  fb_request *req = src->ptr;
  size_t left = req->resp_body.len - req->resp_off;
  size_t n = left < length ? left : length;
  if (n) *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (n == left) {
    if (req->finished) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      req->eof_sent = true;
    } else if (n == 0) {
      return NGHTTP2_ERR_DEFERRED;
    }
  }
  return (ssize_t)n;
}

/* The frame read_body sized: its 9-byte header, then `length` bytes of the body. We
 * never ask for padding. A full output waits (nghttp2 calls again with the same frame
 * on the next h2_send), so the output stays bounded as with copied frames. */
static int send_data(nghttp2_session *s, nghttp2_frame *frame, const uint8_t *framehd, size_t length,
                     nghttp2_data_source *src, void *ud) {
  (void)s;
  net_h2 *h = ud;
  fb_request *req = src->ptr;
  if (frame->data.padlen > 0 || length > req->resp_body.len - req->resp_off)
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  fb_buf *out = h->gather ? h->gather : &h->out;
  if (out->len && h->conn->write_queue + out->len >= SEND_HIGH_WATER) return NGHTTP2_ERR_WOULDBLOCK;
  fb_buf_append(out, framehd, 9);
  fb_buf_append(out, req->resp_body.data + req->resp_off, length);
  req->resp_off += length;
  net_conn_hold(req->conn, -(long long)length);
  if (req->resp_off == req->resp_body.len) {
    fb_buf_reset(&req->resp_body); /* streamed bodies do not accumulate */
    req->resp_off = 0;
  }
  return 0;
}

void net_h2_respond(fb_request *req, bool has_more) {
  (void)has_more;
  net_h2 *h = req->conn->h2;
  if (!h) return;
  if (!req->wire_started) {
    req->wire_started = true;
    char status[8];
    snprintf(status, sizeof status, "%d", req->status);
    size_t n = 1;
    for (size_t off = 0; off < req->resp_headers.len; off++) n += req->resp_headers.data[off] == '\0';
    nghttp2_nv *nva = fb_xcalloc(n / 2 + 3, sizeof *nva);
    size_t k = 0;
    nva[k++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)status, 7, strlen(status), NGHTTP2_NV_FLAG_NONE};
    for (size_t off = 0; off < req->resp_headers.len;) {
      char *name = req->resp_headers.data + off;
      char *value = name + strlen(name) + 1;
      nva[k++] = (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value), NGHTTP2_NV_FLAG_NONE};
      off = (size_t)(value - req->resp_headers.data) + strlen(value) + 1;
    }
    char clen[24];
    if (!req->streaming) {
      snprintf(clen, sizeof clen, "%zu", req->resp_body.len);
      nva[k++] = (nghttp2_nv){(uint8_t *)"content-length", (uint8_t *)clen, 14, strlen(clen), NGHTTP2_NV_FLAG_NONE};
    }
    bool head = strcmp(fb_request_method(req), "HEAD") == 0;
    if (head) { /* no body goes out: what was produced for it is dropped */
      net_conn_hold(req->conn, -(long long)(req->resp_body.len - req->resp_off));
      fb_buf_reset(&req->resp_body);
      req->resp_off = 0;
      req->eof_sent = true;
    }
    nghttp2_data_provider prd = {.source.ptr = req, .read_callback = read_body};
    int rv = nghttp2_submit_response(h->session, req->stream_id, nva, k, head ? NULL : &prd);
    free(nva);
    if (rv != 0) {
      fb_warn("h2_submit", "stream %d: %s", req->stream_id, nghttp2_strerror(rv));
      req->eof_sent = true; /* nothing of it will go out: it does not wait to be sent */
    }
  } else {
    nghttp2_session_resume_data(h->session, req->stream_id);
  }
  /* Inside mem_recv the send after it takes this; otherwise (an answer completed
   * asynchronously) send after this loop iteration, with the others that completed. */
  if (!h->sending && !h->receiving) net_server_queue_flush(h->conn->srv, h->conn);
}

static void h2_send(net_h2 *h) {
  net_conn *c = h->conn;
  if (c->closing) return;
  h->sending = true;
  /* Gather every frame nghttp2 has ready and write them at once: one syscall for a
   * batch of responses instead of one per frame. They are gathered in the loop's own
   * buffer (its server's) and written from it (net_conn_write_now): the socket usually
   * takes them all, and only what it does not is copied and queued, so a response costs
   * no buffer of its own. A send nested in another (a close's callbacks) uses the
   * connection's. */
  fb_server *srv = c->srv;
  fb_buf *out = srv->gathering ? &h->out : &srv->send_gather;
  bool mine = out == &srv->send_gather;
  srv->gathering = true;
  h->gather = out;
  bool more = true; /* nghttp2 may have frames beyond the high-water mark */
  bool progressed = false;
  while (more && !c->closing) {
    more = false;
    while (!(more = c->write_queue + out->len >= SEND_HIGH_WATER)) {
      const uint8_t *data;
      ssize_t n = nghttp2_session_mem_send(h->session, &data);
      if (n < 0) {
        h->sending = false;
        h->gather = NULL;
        fb_buf_reset(out);
        if (mine) srv->gathering = false;
        net_conn_close(c);
        return;
      }
      if (n == 0) break;
      fb_buf_append(out, data, (size_t)n);
    }
    size_t gathered = out->len;
    if (gathered) progressed |= net_conn_write_now(c, out->data, out->len) > 0;
    fb_buf_reset(out);
    /* What the socket took at once has no write callback to resume sending (a full
     * output, or send_data's WOULDBLOCK, stopped the gathering): go on while all went
     * out and nghttp2 has more; a queued write's completion resumes it otherwise. */
    more = gathered && c->write_queue == 0 && !c->closing && (more || nghttp2_session_want_write(h->session));
  }
  h->gather = NULL;
  if (mine) {
    srv->gathering = false;
    if (out->cap > (1u << 20)) fb_buf_free(out); /* a burst's buffer is not kept */
  } else {
    fb_buf_free(out);
  }
  h->sending = false;
  net_conn_output_changed(c, progressed);
  if (!c->closing && !nghttp2_session_want_read(h->session) && !nghttp2_session_want_write(h->session)) {
    c->close_when_drained = true;
    if (c->write_queue == 0) net_conn_close(c);
  }
}

void net_h2_resume_send(net_h2 *h) {
  if (!h->sending) h2_send(h);
}

net_h2 *net_h2_new(net_conn *c) {
  net_h2 *h = fb_xcalloc(1, sizeof *h);
  h->conn = c;
  nghttp2_session_callbacks *cbs;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_frame_callback(cbs, on_begin_frame);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
  nghttp2_session_callbacks_set_send_data_callback(cbs, send_data);
  nghttp2_option *opt;
  nghttp2_option_new(&opt);
  /* Headers beyond the limit are answered with 431, not dropped by nghttp2 silently. */
  nghttp2_option_set_max_send_header_block_length(opt, 65536);
  int rv = nghttp2_session_server_new2(&h->session, cbs, h, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) {
    free(h);
    return NULL;
  }
  const fb_limits *lim = &c->srv->cfg->limits;
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, lim->streams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)lim->header},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  };
  nghttp2_submit_settings(h->session, NGHTTP2_FLAG_NONE, iv, FB_ARRAY_LEN(iv));
  h->scan_preface = 24; /* nghttp2 checks the preface itself */
  net_conn_timer_idle(c);
  return h;
}

int net_h2_feed(net_h2 *h, const char *data, size_t len) {
  uint32_t code = 0;
  size_t ok = h->terminated ? 0 : scan_frames(h, (const uint8_t *)data, len, &code);
  h->receiving = true;
  ssize_t rv = ok ? nghttp2_session_mem_recv(h->session, (const uint8_t *)data, ok) : 0;
  h->receiving = false;
  if (rv >= 0 && code && !h->terminated) {
    nghttp2_session_terminate_session(h->session, code);
    h->terminated = true;
    rv = -1;
  }
  if (rv < 0 && h->terminated) {
    h2_send(h); /* the GOAWAY; the session no longer wants to read, so it closes */
    h->conn->close_when_drained = true;
    if (h->conn->write_queue == 0) net_conn_close(h->conn);
    return 0;
  }
  if (rv < 0) {
    fb_debug("h2_error", "%s: %s", h->conn->peer, nghttp2_strerror((int)rv));
    return -1;
  }
  h2_send(h);
  return 0;
}

void net_h2_goaway(net_h2 *h) {
  nghttp2_submit_goaway(h->session, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->session),
                        NGHTTP2_NO_ERROR, NULL, 0);
  h2_send(h);
}

bool net_h2_busy(const net_h2 *h) { return h->active > 0; }

bool net_h2_output_blocked(const net_h2 *h) {
  for (const fb_request *r = h->reqs; r; r = r->next)
    if (r->wire_started && !r->eof_sent && (r->resp_off < r->resp_body.len || r->finished)) return true;
  return false;
}

void net_h2_free(net_h2 *h) {
  if (!h) return;
  /* nghttp2_session_del does not report the streams it drops: abort them here. */
  h->conn->closing = true;
  while (h->reqs) {
    fb_request *req = h->reqs;
    h->reqs = req->next;
    if (req->dispatched) net_request_complete(req, !req->finished);
    else net_request_free(req);
  }
  nghttp2_session_del(h->session);
  fb_buf_free(&h->out);
  free(h);
}
