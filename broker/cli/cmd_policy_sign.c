/* `fedbroker policy keygen --out PREFIX` and `fedbroker policy sign FILE --key KEY`:
 * the legal officer's side of signed policies (CONFIG.md policy_keys). keygen writes
 * an Ed25519 pair, PREFIX.pem (private, mode 0600) and PREFIX.pub.pem (for the hub's
 * policy_keys); sign writes FILE.sig, the base64 Ed25519 signature of the file's exact
 * bytes, which is what the hub verifies (policy/store.c). A file that does not load
 * is not signed: a signature vouches for a policy, not for a typo. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "cli/command.h"
#include "cli/options.h"
#include "cli/policy_cmds.h"
#include "core/crypto.h"
#include "core/util.h"
#include "policy/policy.h"
#include "policy/rules.h"

/* Opens `path` for writing, created with `mode`; refuses to replace an existing file
 * (a key overwritten by mistake cannot be recovered). */
static FILE *create_new(const char *path, mode_t mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
  if (fd < 0) {
    fprintf(stderr, "fedbroker policy keygen: cannot create %s: %s\n", path, strerror(errno));
    return NULL;
  }
  FILE *f = fdopen(fd, "w");
  if (!f) close(fd);
  return f;
}

int fb_cmd_policy_keygen(int argc, char **argv) {
  static const struct option opts[] = {
      {"out", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  const char *prefix = NULL;
  fb_opt_begin();
  int c;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case 'o': prefix = optarg; break;
    case 'h': fputs(fb_policy_usage, stdout); return 0;
    default: return fb_opt_error(fb_policy_usage, "policy keygen", c, argv);
    }
  }
  if (optind < argc) return fb_usage_error(fb_policy_usage, "policy keygen: unexpected argument '%s'", argv[optind]);
  if (!prefix || !*prefix) return fb_usage_error(fb_policy_usage, "policy keygen: --out PREFIX is required");
  size_t n = strlen(prefix) + 16;
  char *priv = fb_xmalloc(n), *pub = fb_xmalloc(n);
  snprintf(priv, n, "%s.pem", prefix);
  snprintf(pub, n, "%s.pub.pem", prefix);
  int rc = 1;
  EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  FILE *fpriv = NULL, *fpub = NULL;
  if (!key) {
    fprintf(stderr, "fedbroker policy keygen: cannot generate an Ed25519 key\n");
    goto out;
  }
  if (!(fpriv = create_new(priv, 0600))) goto out;
  if (!(fpub = create_new(pub, 0644))) {
    fclose(fpriv);
    fpriv = NULL;
    unlink(priv);
    goto out;
  }
  bool ok = PEM_write_PrivateKey(fpriv, key, NULL, NULL, 0, NULL, NULL) == 1;
  ok &= PEM_write_PUBKEY(fpub, key) == 1;
  ok &= fclose(fpriv) == 0;
  ok &= fclose(fpub) == 0;
  fpriv = fpub = NULL;
  if (!ok) {
    fprintf(stderr, "fedbroker policy keygen: cannot write %s and %s\n", priv, pub);
    unlink(priv);
    unlink(pub);
    goto out;
  }
  printf("private key: %s (keep it with the legal officer; never on the hub)\n"
         "public key:  %s (the hub's policy_keys)\n", priv, pub);
  rc = 0;
out:
  EVP_PKEY_free(key);
  free(priv);
  free(pub);
  return rc;
}

int fb_cmd_policy_sign(int argc, char **argv) {
  static const struct option opts[] = {
      {"key", required_argument, 0, 'k'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  const char *keypath = NULL;
  fb_opt_begin();
  int c;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case 'k': keypath = optarg; break;
    case 'h': fputs(fb_policy_usage, stdout); return 0;
    default: return fb_opt_error(fb_policy_usage, "policy sign", c, argv);
    }
  }
  if (optind == argc) return fb_usage_error(fb_policy_usage, "policy sign: expected the policy FILE");
  if (optind + 1 < argc) return fb_usage_error(fb_policy_usage, "policy sign: unexpected argument '%s'", argv[optind + 1]);
  const char *file = argv[optind];
  if (!keypath) return fb_usage_error(fb_policy_usage, "policy sign: --key KEY is required");

  char *kerr = NULL;
  EVP_PKEY *key = fb_ed25519_load_private_key(keypath, &kerr);
  if (!key) {
    fprintf(stderr, "fedbroker policy sign: %s (--key is not an Ed25519 private key in PEM; "
                    "make one with fedbroker policy keygen)\n", kerr);
    free(kerr);
    return 1;
  }
  size_t len = 0;
  char *src = fb_read_file(file, FB_POLICY_FILE_MAX, &len);
  if (!src) {
    fprintf(stderr, "fedbroker policy sign: cannot read %s: %s\n", file,
            errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
    EVP_PKEY_free(key);
    return 1;
  }
  /* Only a file that loads is signed. */
  char *err = NULL;
  fb_policy *p = fb_policy_load_file(file, fb_policy_test_key, sizeof fb_policy_test_key, NULL, &err);
  if (!p) {
    fprintf(stderr, "%s\nfedbroker policy sign: %s does not load; nothing was signed\n", err, file);
    free(err);
    free(src);
    EVP_PKEY_free(key);
    return 1;
  }
  fb_policy_unref(p);

  uint8_t sig[FB_ED25519_SIG_LEN];
  bool ok = fb_ed25519_sign(key, src, len, sig) == 0;
  EVP_PKEY_free(key);
  free(src);
  if (!ok) {
    fprintf(stderr, "fedbroker policy sign: signing failed\n");
    return 1;
  }
  fb_buf b64 = {0};
  fb_base64_encode(sig, sizeof sig, &b64);
  size_t n = strlen(file) + 8;
  char *sigpath = fb_xmalloc(n);
  snprintf(sigpath, n, "%s.sig", file);
  FILE *f = fopen(sigpath, "w");
  ok = f && fprintf(f, "%s\n", b64.data) > 0;
  fb_buf_free(&b64);
  if (f) ok &= fclose(f) == 0;
  if (!ok) fprintf(stderr, "fedbroker policy sign: cannot write %s: %s\n", sigpath, strerror(errno));
  else printf("signed: %s\n", sigpath);
  free(sigpath);
  return ok ? 0 : 1;
}
