/* TLS on a libuv stream through OpenSSL memory BIOs: ciphertext in from the socket,
 * plaintext out to the HTTP session, and the reverse for writes. ALPN picks h2 or
 * http/1.1. */
#include <string.h>

#include <openssl/err.h>

#include "core/error.h"
#include "core/log.h"
#include "net/internal.h"

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
  (void)ssl;
  (void)arg;
  static const unsigned char ours[] = "\x02h2\x08http/1.1";
  unsigned char *sel = NULL;
  if (SSL_select_next_proto(&sel, outlen, ours, sizeof ours - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK; /* no overlap: fall back to HTTP/1.1 without ALPN */
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

/* fb_set_error with OpenSSL's text for the first error on its queue (then cleared). */
static void set_ssl_error(char **err, const char *what, const char *path) {
  char buf[256];
  unsigned long e = ERR_get_error();
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  fb_set_error(err, "%s %s: %s", what, path ? path : "", e ? buf : "unknown error");
}

SSL_CTX *net_tls_ctx_new(const fb_listen_config *cfg, char **err) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    set_ssl_error(err, "cannot create TLS context", NULL);
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1) {
    set_ssl_error(err, "cannot load TLS certificate", cfg->cert);
    SSL_CTX_free(ctx);
    return NULL;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    set_ssl_error(err, "cannot load TLS key", cfg->key);
    SSL_CTX_free(ctx);
    return NULL;
  }
  if (cfg->client_cert != FB_CLIENT_CERT_NONE) {
    if (SSL_CTX_load_verify_locations(ctx, cfg->client_ca, NULL) != 1) {
      set_ssl_error(err, "cannot load client CA", cfg->client_ca);
      SSL_CTX_free(ctx);
      return NULL;
    }
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->client_ca);
    if (names) SSL_CTX_set_client_CA_list(ctx, names);
    int mode = SSL_VERIFY_PEER;
    if (cfg->client_cert == FB_CLIENT_CERT_REQUIRED) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, NULL);
    SSL_CTX_set_verify_depth(ctx, 4);
    static const unsigned char sid_ctx[] = "fedbroker";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
  }
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
  return ctx;
}

/* Moves whatever OpenSSL produced into the socket. */
static void flush_wbio(net_conn *c) {
  char buf[16384];
  int n;
  while ((n = BIO_read(c->wbio, buf, sizeof buf)) > 0) net_conn_raw_write(c, buf, (size_t)n);
}

int net_tls_write(net_conn *c, const void *data, size_t len) {
  if (!c->handshake_done) return -1;
  const char *p = data;
  while (len > 0) {
    int chunk = len > 65536 ? 65536 : (int)len;
    int n = SSL_write(c->ssl, p, chunk);
    if (n <= 0) {
      ERR_clear_error();
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  flush_wbio(c);
  return 0;
}

int net_tls_feed(net_conn *c, const char *data, size_t len) {
  if (BIO_write(c->rbio, data, (int)len) != (int)len) return -1;
  if (!c->handshake_done) {
    int rc = SSL_do_handshake(c->ssl);
    flush_wbio(c);
    if (rc != 1) {
      int e = SSL_get_error(c->ssl, rc);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
      char buf[200];
      ERR_error_string_n(ERR_peek_last_error(), buf, sizeof buf);
      fb_info("tls_handshake_failed", "%s: %s", c->peer, buf);
      ERR_clear_error();
      return -1;
    }
    c->handshake_done = true;
    const unsigned char *alpn = NULL;
    unsigned alen = 0;
    SSL_get0_alpn_selected(c->ssl, &alpn, &alen);
    if (alen == 2 && memcmp(alpn, "h2", 2) == 0) {
      /* ALPN chose h2: the client's first bytes must be the preface, and an HTTP/1.1
       * request is a broken preface, not something to serve (conn.c). */
      c->proto = PROTO_UNKNOWN;
      c->alpn_h2 = true;
    } else if (alen > 0) {
      c->proto = PROTO_H1;
      c->h1 = net_h1_new(c);
    }
  }
  char buf[16384];
  for (;;) {
    int n = SSL_read(c->ssl, buf, sizeof buf);
    if (n > 0) {
      net_conn_plaintext(c, buf, (size_t)n);
      if (c->closing) return 0;
      continue;
    }
    int e = SSL_get_error(c->ssl, n);
    flush_wbio(c);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    ERR_clear_error();
    return -1; /* close_notify or a protocol error */
  }
}
