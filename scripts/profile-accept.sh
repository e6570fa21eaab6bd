#!/usr/bin/env bash
# A CPU profile of Tern while smtp-source loads it: what limits the accept rate, measured rather than guessed.
# usage: scripts/profile-accept.sh [OUTDIR] [more bench-accept.ts options]
#   e.g. scripts/profile-accept.sh .bench/prof --peers tern-postgres --sessions 50
# Runs Tern from source under `bun --cpu-prof --cpu-prof-md` through one round of scripts/bench-accept.ts
# (default: tern-pglite only, 10 sessions, 3000 messages per cell), stops it with SIGTERM so Bun writes the
# profile, and prints the hottest functions. OUTDIR/<peer>.cpuprofile opens in Chrome DevTools (Performance
# tab, "Load profile") or speedscope; OUTDIR/<peer>.md is the same profile as greppable tables. The profile
# covers the whole process (start-up and warm-up included); the samples are JS and wasm functions.
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-.bench/profile-$(date +%Y%m%d-%H%M%S)}
shift || true
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
node_modules/.bin/bun scripts/bench-accept.ts --peers tern-pglite --rounds 1 --messages 3000 --sessions 10 \
  --cpu-prof "$OUT" "$@" || echo "(the benchmark reported errors; the profile is still written)"
for md in "$OUT"/*.md; do
  [ -e "$md" ] || { echo "no profile written in $OUT" >&2; exit 1; }
  echo; echo "== $md: hottest functions by self time"
  sed -n '/^## Hot Functions/,/^## Call Tree/p' "$md" | sed '1,2d;$d' | head -n 27
done
