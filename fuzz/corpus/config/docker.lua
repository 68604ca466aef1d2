-- The pilot hub (docker/compose.yaml): four simulated national nodes over HTTPS with
-- mutual TLS, tokens from the pilot issuer, the audit log on a volume. Everything in
-- /pilot is written by init-pilot (docker/init-pilot.sh). CONFIG.md describes each key.

listen = {
  -- Cleartext inside the compose network only: health checks, metrics, the console.
  { address = "0.0.0.0:8080" },
  -- What analysts use: TLS, with an optional client certificate from the pilot CA.
  { address = "0.0.0.0:8443", tls = { cert = "/pilot/tls/hub.pem", key = "/pilot/tls/hub.key",
                                      client_ca = "/pilot/tls/ca.pem", client_cert = "optional" } },
}

policies = "/opt/fedbroker/policies"

audit = { path = "/var/lib/fedbroker/audit.jsonl", key = "/pilot/keys/audit.pem", checkpoint_every = 1000 }

issuers = {
  { iss = "https://idp.pilot.fedbroker.example", key = "/pilot/keys/issuer.pub.pem", aud = "fedbroker" },
}

deadlines = { immediate = 2000, urgent = 5000, routine = 15000 }

redaction_key = "/pilot/keys/redaction.key"

-- The hub presents hub.pem as its client certificate; each node requires one from the CA.
states = {
  IDN = { adapter = "http", url = "https://idn-node:9443/search", ca = "/pilot/tls/ca.pem",
          cert = "/pilot/tls/hub.pem", key = "/pilot/tls/hub.key", timeout = 5000 },
  MYS = { adapter = "http", url = "https://mys-node:9443/search", ca = "/pilot/tls/ca.pem",
          cert = "/pilot/tls/hub.pem", key = "/pilot/tls/hub.key", timeout = 5000 },
  THA = { adapter = "http", url = "https://tha-node:9443/search", ca = "/pilot/tls/ca.pem",
          cert = "/pilot/tls/hub.pem", key = "/pilot/tls/hub.key", timeout = 5000 },
  BGD = { adapter = "http", url = "https://bgd-node:9443/search", ca = "/pilot/tls/ca.pem",
          cert = "/pilot/tls/hub.pem", key = "/pilot/tls/hub.key", timeout = 5000 },
}
