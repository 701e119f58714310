#!/usr/bin/env bash
# Offline type-check of the SST app (sst.config.ts, stacks/, infra/).
#
# 1. `sst install` generates the platform types into .sst/platform (once; again when sst.config.ts's providers
#    change). Offline-safe: SST_SKIP_DEPENDENCY_CHECK stops it from downloading Pulumi and its own Bun, the
#    `bun` npm package stands in, and the provider packages come from the npm registry. Telemetry is off.
# 2. tsc with infra/tsconfig.json. SST's platform types are TypeScript sources compiled with our compiler;
#    errors inside .sst/ are SST's, not ours, so only errors in our files fail the check.
set -euo pipefail
cd "$(dirname "$0")/.."

export SST_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 SST_SKIP_DEPENDENCY_CHECK=1
export SST_BUN_PATH="$PWD/node_modules/.bin/bun"
export SST_STAGE="${SST_STAGE:-typecheck}"

if [[ ! -f .sst/platform/version || ! -d .sst/platform/node_modules/@pulumi/aws ]] \
  || ! grep -q '"aws"' .sst/provider-lock.json 2>/dev/null; then
  echo "check:infra: sst install (offline)"
  node_modules/.bin/sst install >/dev/null
  rm -f .sst/platform/sst.config.*.mjs
fi

echo "check:infra: tsc -p infra/tsconfig.json"
set +e
output="$(node_modules/.bin/tsc -p infra/tsconfig.json --noEmit 2>&1)"
set -e
ours="$(grep -E '^[^ ].*error TS' <<<"$output" | grep -v '^\.sst/' || true)"
if [[ -n "$ours" ]]; then
  # Print every error of ours with its continuation lines.
  awk '/^[^ ]/ { show = ($0 !~ /^\.sst\//) } show' <<<"$output"
  exit 1
fi
echo "check:infra: ok ($(grep -c '^\.sst/.*error TS' <<<"$output" || true) error(s) inside SST's own platform sources ignored)"
