#!/usr/bin/env bash
# The test command (npm test): type-checks, then runs every suite against every engine.
# Narrow locally with ENGINES=memory,sqlite or a path: npm test -- test/primitives
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund
# better-sqlite3 builds from source here (no prebuilt binary is reachable); fail early, by name, if it did not.
node -e "require('better-sqlite3')" || { echo "engine sqlite: better-sqlite3 is not built; run npm rebuild better-sqlite3" >&2; exit 1; }

# Start (or check) every server engine the run needs; a missing one fails here, by name.
engines=${ENGINES:-memory,sqlite,redis,postgres,etcd}
bash scripts/engines.sh ${engines//,/ } chrony

npx tsc -p tsconfig.json --noEmit
npx vitest run "$@"
