-- The hub on Kubernetes (deploy/kubernetes): like docker/hub.lua, with the nodes'
-- Services as addresses, the PKI from the pilot-pki Job's volume, and each replica's
-- audit log and its own checkpoint key on the replica's volume (/var/lib/fedbroker).
-- docs/operations.md describes each key.
listen = {
  { address = "0.0.0.0:8080" },
  { address = "0.0.0.0:8443", tls = { cert = "/pilot/tls/hub.pem", key = "/pilot/tls/hub.key",
                                      client_ca = "/pilot/tls/ca.pem", client_cert = "optional" } },
}
policies = "/etc/fedbroker/policies"
audit = { path = "/var/lib/fedbroker/audit.jsonl", key = "/var/lib/fedbroker/audit.pem", checkpoint_every = 1000 }
issuers = {
  { iss = "https://idp.pilot.fedbroker.example", key = "/pilot/keys/issuer.pub.pem", aud = "fedbroker" },
}
deadlines = { immediate = 2000, urgent = 5000, routine = 15000 }
redaction_key = "/pilot/keys/redaction.key"
states = {
  IDN = { adapter = "http", url = "https://idn-node:9443/search", ca = "/pilot/tls/ca.pem",
          cert = "/pilot/tls/hub.pem", key = "/pilot/tls/hub.key", timeout = 5000 },
  MYS = { adapter = "http", url = "https://mys-node:9443/search", ca = "/pilot/tls/ca.pem",
          cert = "/pilot/tls/hub.pem", key = "/pilot/tls/hub.key", timeout = 5000 },
  THA = { adapter = "sqlite", path = "/pilot/data/THA.db" },
  BGD = { adapter = "http", url = "https://bgd-node:9443/search", ca = "/pilot/tls/ca.pem",
          cert = "/pilot/tls/hub.pem", key = "/pilot/tls/hub.key", timeout = 5000 },
}
