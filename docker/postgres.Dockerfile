# PostgreSQL for the pilot (docker/compose.yaml): Thailand's national case database
# (the `postgres` adapter) and the hub's store. Debian's own PostgreSQL 15, no registry.
#   docker build -f docker/postgres.Dockerfile -t fedbroker-postgres:pilot .
FROM debian:12-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data
COPY docker/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
USER postgres
ENV PGDATA=/var/lib/postgresql/data
EXPOSE 5432
HEALTHCHECK --interval=3s --timeout=3s --start-period=5s --retries=20 \
  CMD ["/usr/lib/postgresql/15/bin/pg_isready", "-h", "127.0.0.1", "-q"]
STOPSIGNAL SIGINT
ENTRYPOINT ["postgres-entrypoint"]
