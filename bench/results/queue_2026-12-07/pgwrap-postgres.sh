#!/bin/sh
# PgCluster passes -c fsync=off -c synchronous_commit=off -c full_page_writes=off; later -c wins.
exec /usr/lib/postgresql/15/bin/postgres "$@" -c fsync=on -c synchronous_commit=on -c full_page_writes=on
