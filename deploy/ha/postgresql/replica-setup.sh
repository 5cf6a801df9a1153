#!/bin/sh
# Make pg-2 a streaming replica of pg-1 (run on pg-2 as the postgres user, server stopped).
# pg_basebackup -R writes standby.signal and primary_conninfo; application_name=pg2 is the name
# synchronous_standby_names waits for.
set -eu
PGDATA=${PGDATA:-/var/lib/postgresql/16/main}
rm -rf "$PGDATA"/*
pg_basebackup -h pg-1.internal -U replicator -D "$PGDATA" -X stream -R -C -S pg2 \
  -d "application_name=pg2"
# promote on failover (or let Patroni/pg_auto_failover do it):  pg_ctl promote -D "$PGDATA"
# then make pg-1 the replica of pg-2 (pg_rewind, standby.signal) and swap the name in
# synchronous_standby_names. The engines need no change: their DSN lists both hosts.
