# The load balancer in front of several hub replicas (docker/compose.replicas.yaml):
# Debian's HAProxy, TLS passed through to the hubs, each hub health-checked on /readyz.
#   docker build -f docker/haproxy.Dockerfile -t fedbroker-haproxy:pilot .
FROM debian:12-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy >/dev/null \
 && rm -rf /var/lib/apt/lists/*
COPY docker/haproxy.cfg /etc/haproxy/haproxy.cfg
USER haproxy
EXPOSE 8443
ENTRYPOINT ["haproxy", "-W", "-db", "-f", "/etc/haproxy/haproxy.cfg"]
