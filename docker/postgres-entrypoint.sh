#!/bin/sh
# First start: initdb, a login role `hub` with $HUB_DB_PASSWORD, databases `national`
# (Thailand's records) and `fedbroker` (the hub's store), both owned by `hub`.
# Then (and on every later start) PostgreSQL in the foreground.
set -eu
BIN=/usr/lib/postgresql/15/bin
: "${PGDATA:=/var/lib/postgresql/data}"
: "${HUB_DB_PASSWORD:?set HUB_DB_PASSWORD}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  "$BIN/initdb" -D "$PGDATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 >/dev/null
  echo "host all all 0.0.0.0/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
  echo "host all all ::/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
  "$BIN/pg_ctl" -D "$PGDATA" -o "-c listen_addresses='' -k /tmp" -w start >/dev/null
  psql -h /tmp -U postgres -q -v ON_ERROR_STOP=1 -v pw="$HUB_DB_PASSWORD" <<'SQL'
CREATE ROLE hub LOGIN PASSWORD :'pw';
CREATE DATABASE national OWNER hub;
CREATE DATABASE fedbroker OWNER hub;
SQL
  "$BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
  echo "postgres-entrypoint: initialised $PGDATA" >&2
fi
exec "$BIN/postgres" -D "$PGDATA" -c listen_addresses='*' -k /tmp
