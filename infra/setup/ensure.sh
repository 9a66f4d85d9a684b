#!/bin/sh
# Makes a fresh Debian machine with Node 20 ready to run agentbus and its tests.
# Runs before `npm start` and `npm test` (npm's prestart/pretest): installs the npm packages
# when they are missing or older than package-lock.json, and nats-server, git, prometheus and openssl through apt
# when they are absent. Safe to run again: it does nothing when everything is in place.
set -eu
cd "$(dirname "$0")/../.."

say() { printf 'agentbus setup: %s\n' "$*" >&2; }

# 20.19 or newer: ESLint 10, the linter npm test runs first, needs it.
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  say "Node $(node --version) is too old: agentbus needs Node 20.19 or newer."
  exit 1
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)…"
  npm ci --no-audit --no-fund --loglevel=error
fi

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

missing=""
have nats-server || missing="$missing nats-server"
have git || missing="$missing git"
# Metric checks read a Prometheus; the tests start private ones on free ports. (On a systemd host
# the package also starts its own service on :9090, which agentbus never uses.)
have prometheus || missing="$missing prometheus"
# The TLS tests make their CA and certificates with openssl.
have openssl || missing="$missing openssl"
if [ -n "$missing" ]; then
  say "installing$missing through apt…"
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    say "cannot install$missing: not root and no sudo. Install them yourself: apt-get install$missing (or brew install$missing)."
    exit 1
  fi
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null; }; then
    say "apt-get install$missing failed. Install them yourself (apt-get install$missing, or brew install$missing) and run again."
    exit 1
  fi
fi
