listen = {
  { address = "127.0.0.1:8080" },
  { address = "0.0.0.0:8443", tls = { cert = "tls/hub.pem", key = "tls/hub.key", client_ca = "tls/ca.pem", client_cert = "optional" } },
}
policies = "policies"
policy_keys = { MYS = "keys/mys-policy.pub.pem" }
audit = { path = "var/audit.jsonl", key = "keys/audit.pem", checkpoint_every = 1000 }
issuers = { { iss = "https://idp.example.my", key = "keys/idp-mys.pub.pem", aud = "fedbroker" } }
deadlines = { immediate = 2000, urgent = 5000, routine = 15000 }
limits = { max_body = 65536, concurrency = 1024, connections = 10000 }
local base = "http://node:9000"
states = {
  MYS = { adapter = "sqlite", path = "data/MYS.db" },
  THA = { adapter = "http", url = base .. "/search", timeout = 3000 },
  IDN = { adapter = "broker", url = "https://hub.idn/v1/search", token_file = "keys/idn.token" },
}
