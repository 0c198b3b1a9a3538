#!/usr/bin/env bash
# Install the test OpenID provider (panva's oidc-provider, pinned by package-lock.json)
# into tests/oidc/provider/node_modules (gitignored). Needs Node.js >= 20 and npm; installs
# Debian's when missing. The test fixture runs this script when node_modules is absent.
set -euo pipefail
cd "$(dirname "$0")/../tests/oidc/provider"
if ! command -v npm >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq nodejs npm >&2
fi
npm ci --no-audit --no-fund --loglevel=error >&2
