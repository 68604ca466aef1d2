/* The hub's configuration (CONFIG.md): a Lua file loaded as data in the sandbox,
 * then environment overrides. Every error names the key and the line. */
#ifndef FB_CONFIG_CONFIG_H
#define FB_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { FB_CLIENT_CERT_NONE = 0, FB_CLIENT_CERT_OPTIONAL, FB_CLIENT_CERT_REQUIRED } fb_client_cert_mode;

typedef struct {
  char *address;             /* "host:port", "[::1]:8080" */
  bool tls;
  char *cert, *key;          /* PEM paths (resolved) when tls */
  char *client_ca;           /* optional CA bundle for client certificates */
  fb_client_cert_mode client_cert;
} fb_listen_config;

typedef struct {
  char *iss;
  char *key;                 /* PEM public key path (resolved) */
  char *aud;                 /* expected audience; default "fedbroker" */
  char *kid;                 /* optional: when set, a token's `kid` header must equal it */
} fb_issuer_config;

typedef struct {
  char *path;                /* audit log path (resolved) */
  char *key;                 /* Ed25519 private key PEM path for checkpoints, or NULL */
  uint32_t checkpoint_every; /* default 1000 */
  bool no_fsync;             /* `fsync = false`: benchmarks only, loses durability */
  char **peers;              /* other replicas' chains, read-only: /v1/stats over a period
                                and the report sum them with this hub's own (resolved) */
  size_t npeers;
} fb_audit_config;

/* A key of a `states` entry that belongs to the adapter kind: the loader keeps it as
 * the file gave it, and the kind's `configure` (adapters/adapter.h) reads it with the
 * fb_state_option_* readers below. */
typedef enum { FB_OPTION_OTHER = 0, FB_OPTION_STRING, FB_OPTION_NUMBER } fb_option_type;

typedef struct {
  char *key;
  int line;                  /* of `key =` in the config file, for messages */
  fb_option_type type;
  const char *type_name;     /* the value's Lua type name ("table", ...), for messages */
  char *text;                /* FB_OPTION_STRING */
  bool is_integer;           /* the value reads as an integer (a number, or a numeric string) */
  long long integer;
} fb_state_option;

/* One `states` entry. The loader reads `adapter`, `timeout` and `max_legs` and keeps
 * every other key in `options`; the adapter kind's configure reads those into the
 * fields below marked "kind" (strings naming files resolved relative to the config
 * file: path, ca, cert, key, token_file). Code that builds a state by hand (tests)
 * sets those fields directly and leaves `options` empty. */
typedef struct {
  char *code;                /* "MYS" */
  char *adapter;             /* "sqlite", "http", "postgres", "broker" */
  fb_state_option *options;  /* the kind's keys, unread */
  size_t noptions;
  const char *source_path;   /* the config file (borrowed from fb_config), for messages */
  int line, adapter_line;    /* of `MYS =` and of its `adapter =`, for messages */
  bool configured;           /* the kind's configure has read `options` */
  /* kind options (filled by the kind's configure): */
  char *path;                /* sqlite */
  char *url;                 /* http, broker */
  char *ca, *cert, *key;     /* http: TLS material */
  char *conninfo;            /* postgres */
  char *token_file;          /* broker */
  uint32_t timeout_ms;       /* http: per-request cap; 0 = use the deadline */
  uint64_t max_body;         /* http: default 8 MiB */
  uint32_t max_legs;         /* legs in flight for this state; default 256 */
  uint32_t dns_cache_ms;     /* http, broker: how long a resolved node address is reused;
                                default 5000 (libcurl counts whole seconds, rounded up) */
} fb_state_config;

typedef struct {
  uint32_t immediate_ms, urgent_ms, routine_ms;
} fb_deadlines;

typedef struct {
  size_t body;               /* default 65536 */
  size_t header;             /* default 16384 */
  uint32_t streams;          /* default 100 */
  uint32_t max_states;       /* default 64 */
  uint32_t concurrency;      /* default 1024 searches in flight */
  uint32_t connections;      /* default 10000 open connections */
  uint32_t header_timeout_ms;/* default 10000: whole header block must arrive by then */
  uint32_t idle_timeout_ms;  /* default 60000 */
  uint32_t send_timeout_ms;  /* default 30000: a pending response that makes no write progress */
  size_t send_buffers;       /* default 256 MiB: unsent response bytes held across all connections */
  uint32_t per_client;       /* default 256 open connections per client address */
  uint32_t per_identity;     /* default 32 searches in flight per identity */
  uint32_t aborts_per_minute;/* default 60 aborted searches per identity and minute */
  uint32_t control_frames;   /* default 5000 HTTP/2 WINDOW_UPDATE/PRIORITY/empty DATA per second */
} fb_limits;

typedef struct {
  uint32_t failures;         /* default 5 */
  uint32_t open_ms;          /* default 10000 */
} fb_breaker_config;

/* Follow-up (FOLLOWUP.md): hit references, due dates by priority, focal points. */
typedef struct {
  uint32_t hit_ref_days;     /* default 30 */
  uint64_t due_immediate_s;  /* default 24 h */
  uint64_t due_urgent_s;     /* default 72 h */
  uint64_t due_routine_s;    /* default 30 days */
  uint64_t expire_after_s;   /* an open request expires this long after its due; default 30 days */
  uint32_t stale_after_days; /* focal_points.stale_after_days, default 90 */
  uint64_t refresh_s;        /* focal_points.refresh: reload the directory from the store; default 30 s */
} fb_followup_config;

typedef struct {
  char *source_path;         /* the config file itself, NULL for the embedded default */
  fb_listen_config *listen;
  size_t nlisten;
  char *policies;            /* directory (resolved) */
  char **policy_key_states;  /* policy_keys: parallel arrays */
  char **policy_key_paths;
  size_t npolicy_keys;
  fb_audit_config audit;
  fb_issuer_config *issuers;
  size_t nissuers;
  fb_deadlines deadlines;
  fb_limits limits;
  fb_breaker_config breaker;
  char *redaction_key;       /* path (resolved) or NULL */
  fb_state_config *states;   /* sorted by code */
  size_t nstates;
  char *log_level;           /* "info" by default */
  char *store;               /* SQLite path (resolved) or "postgresql://..."; NULL: default */
  fb_followup_config followup;
  uint32_t workers;          /* event-loop threads; 0 = one per CPU core; default 1 */
} fb_config;

/* The most event-loop threads `workers` may ask for. */
#define FB_WORKERS_MAX 64

/* Fills `cfg` with the defaults above (no listeners, no states). */
void fb_config_defaults(fb_config *cfg);

/* Loads `path`. On error returns -1 and sets *err to a malloc'd message of the form
 * "config.lua:12: limits.body: expected a positive integer". */
int fb_config_load_file(const char *path, fb_config *cfg, char **err);

/* Loads config source text; `path` is used for messages and relative paths. */
int fb_config_load_string(const char *src, size_t len, const char *path, fb_config *cfg,
                          char **err);

/* Applies FEDBROKER_LISTEN, FEDBROKER_LOG_LEVEL, FEDBROKER_WORKERS, FEDBROKER_POLICIES, FEDBROKER_AUDIT
 * from `getenv`. Returns -1 with *err on a malformed value. */
int fb_config_apply_env(fb_config *cfg, char **err);

const fb_state_config *fb_config_state(const fb_config *cfg, const char *code);

/* Readers for a state's kind options, with the loader's checks and messages
 * ("hub.lua:12: states.IDN.url: expected a string, got number"). Each returns 0, or -1
 * with *err a malloc'd sentence. _path resolves the string relative to the config
 * file. */
int fb_state_option_string(const fb_state_config *s, const fb_state_option *o, char **out, char **err);
int fb_state_option_path(const fb_state_config *s, const fb_state_option *o, char **out, char **err);
int fb_state_option_uint(const fb_state_config *s, const fb_state_option *o, uint64_t max, uint64_t *out,
                         char **err);
int fb_state_option_u32(const fb_state_config *s, const fb_state_option *o, uint32_t *out, char **err);
/* fb_set_error (core/error.h) with the loader's form of message: about option `o`
 * ("hub.lua:12: states.IDN.url: ...") or, when `o` is NULL, about the state
 * ("hub.lua:11: states.IDN: ..."). Returns -1. */
int fb_state_error(char **err, const fb_state_config *s, const fb_state_option *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same, about the state's `adapter` key. */
int fb_state_adapter_error(char **err, const fb_state_config *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
uint32_t fb_config_deadline_ms(const fb_config *cfg, const char *priority);

void fb_config_free(fb_config *cfg);

#endif
