#!/usr/bin/env bash
# The servers/s table of docs/PERFORMANCE.md in one run: this build against an older one.
# OLD: a checkout of the older commit with its bench built (git worktree add --detach ../old <commit>;
# dotnet build -c Release bench/Isola.Bench); PG: a PostgreSQL on 127.0.0.1:55432 with databases bench4-6.
set -u
OLD=${OLD:-$OLD}
NEW=${NEW:-$(cd "$(dirname "$0")/.." && pwd)}
run() { local dir=$1; shift; (cd $dir && dotnet run -c Release --no-build --project bench/Isola.Bench -- api "$@" 2>&1 | tail -1); }
PG="Host=127.0.0.1;Port=55432;Username=isola;Database="
echo "a6dae01 sqlite c8"; run $OLD --hosts 400 --servers 4000 --concurrency 8
echo "new sqlite c8"; run $NEW --hosts 400 --servers 4000 --concurrency 8
echo "a6dae01 sqlite c8"; run $OLD --hosts 400 --servers 4000 --concurrency 8
echo "new sqlite c8"; run $NEW --hosts 400 --servers 4000 --concurrency 8
echo "new sqlite c1"; run $NEW --hosts 400 --servers 4000 --concurrency 1
echo "new sqlite c32"; run $NEW --hosts 400 --servers 4000 --concurrency 32
echo "a6dae01 pg c8"; run $OLD --store "${PG}bench4" --hosts 400 --servers 4000 --concurrency 8
echo "new pg c8"; run $NEW --store "${PG}bench5" --hosts 400 --servers 4000 --concurrency 8
echo "new pg c32"; run $NEW --store "${PG}bench6" --hosts 400 --servers 4000 --concurrency 32
