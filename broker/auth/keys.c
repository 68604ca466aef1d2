#include "auth/keys.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "core/util.h"

#define MAX_KEY_FILE 65536

static char *key_error(const char *path, const char *what) {
  fb_buf b = {0};
  fb_buf_printf(&b, "%s: %s", path, what);
  return fb_buf_steal(&b);
}

/* Never prompts: an encrypted key is an error, not a tty dialogue. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
  (void)buf, (void)size, (void)rwflag, (void)u;
  return -1;
}

static EVP_PKEY *load(const char *path, bool priv, char **err) {
  size_t len = 0;
  char *pem = fb_read_file(path, MAX_KEY_FILE, &len);
  if (!pem) {
    if (err) *err = key_error(path, errno == EFBIG ? "larger than 64 KiB" : strerror(errno));
    return NULL;
  }
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  EVP_PKEY *key = NULL;
  if (bio)
    key = priv ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)
               : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
  BIO_free(bio);
  OPENSSL_cleanse(pem, len);
  free(pem);
  ERR_clear_error();
  if (!key && err)
    *err = key_error(path, priv ? "not an unencrypted PEM private key"
                                : "not a PEM public key (-----BEGIN PUBLIC KEY-----)");
  return key;
}

EVP_PKEY *fb_auth_load_public_key(const char *path, char **err) { return load(path, false, err); }

EVP_PKEY *fb_auth_load_private_key(const char *path, char **err) { return load(path, true, err); }
