-- The pilot hub (docker/compose.yaml): three simulated national nodes over HTTPS with
-- mutual TLS, Thailand's national database in PostgreSQL, tokens from the pilot issuer,
-- the audit log on a volume. Everything in /pilot is written by init-pilot
-- (docker/init-pilot.sh). docs/configuration.md describes each key.

listen = {
  -- Cleartext inside the compose network only: health checks, metrics, the console.
  { address = "0.0.0.0:8080" },
  -- What analysts use: TLS, with an optional client certificate from the pilot CA.
  { address = "0.0.0.0:8443", tls = { cert = "/pilot/tls/hub.pem", key = "/pilot/tls/hub.key",
                                      client_ca = "/pilot/tls/ca.pem", client_cert = "optional" } },
}

policies = "/opt/fedbroker/policies"

-- peers: the other replica's chain (docker/compose.replicas.yaml mounts it read-only),
-- so that /v1/stats and the report count both; absent with one hub.
audit = { path = "/var/lib/fedbroker/audit.jsonl", key = "/pilot/keys/audit.pem", checkpoint_every = 1000,
          peers = { "/var/lib/fedbroker-peer/audit.jsonl" } }

issuers = {
  { iss = "https://idp.pilot.fedbroker.example", key = "/pilot/keys/issuer.pub.pem", aud = "fedbroker" },
}

deadlines = { immediate = 2000, urgent = 5000, routine = 15000 }

redaction_key = "/pilot/keys/redaction.key"

-- Follow-up requests and the focal point directory, shared by every hub replica
-- (docker/compose.replicas.yaml); libpq takes the password from PGPASSWORD.
store = "postgresql://hub@tha-db/fedbroker?connect_timeout=5"

-- The hub presents hub.pem as its client certificate; each node requires one from the CA.
states = {
  IDN = { adapter = "http", url = "https://idn-node:9443/search", ca = "/pilot/tls/ca.pem",
          cert = "/pilot/tls/hub.pem", key = "/pilot/tls/hub.key", timeout = 5000 },
  MYS = { adapter = "http", url = "https://mys-node:9443/search", ca = "/pilot/tls/ca.pem",
          cert = "/pilot/tls/hub.pem", key = "/pilot/tls/hub.key", timeout = 5000 },
  -- libpq takes the password from PGPASSWORD (compose.yaml).
  THA = { adapter = "postgres", conninfo = "host=tha-db dbname=national user=hub connect_timeout=5" },
  BGD = { adapter = "http", url = "https://bgd-node:9443/search", ca = "/pilot/tls/ca.pem",
          cert = "/pilot/tls/hub.pem", key = "/pilot/tls/hub.key", timeout = 5000 },
}
