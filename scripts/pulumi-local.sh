#!/usr/bin/env bash
# Runs a Pulumi command on a stack with a local file state backend: no Pulumi account, state in ./.pulumi-state.
#
#   scripts/pulumi-local.sh dev up          # deploy (asks for confirmation; add --yes to skip)
#   scripts/pulumi-local.sh dev preview
#   scripts/pulumi-local.sh dev destroy
#   scripts/pulumi-local.sh prod up         # needs PULUMI_CONFIG_PASSPHRASE (or _FILE) set by you
#
# The dev stack uses a documented, non-secret passphrase so a fresh clone deploys with one command; its generated
# passwords are encrypted with it. Every other stack requires you to provide a passphrase.
set -euo pipefail

DEV_PASSPHRASE="analytics-dev-passphrase-not-secret"

usage() { echo "usage: scripts/pulumi-local.sh <stack> <pulumi command> [args...]   e.g. dev up" >&2; exit 2; }
[ $# -ge 2 ] || usage
stack="$1"; shift
[[ "$stack" =~ ^[a-z][a-z0-9-]*$ ]] || { echo "stack name '$stack': use lowercase letters, digits and dashes (dev, prod)" >&2; exit 2; }

cd "$(dirname "$0")/.."

if ! command -v pulumi >/dev/null 2>&1; then
  echo "The Pulumi CLI is not installed. Install it: curl -fsSL https://get.pulumi.com | sh  (https://www.pulumi.com/docs/install/)" >&2
  exit 1
fi
# Only the commands that change containers need the engine; `config`, `stack output` and `preview` do not (prod's
# alert webhook is set before the first `up`, perhaps on a machine without Docker).
case "$1" in
  up|update|destroy|down|refresh|import|watch)
    if ! docker info >/dev/null 2>&1; then
      echo "No Docker engine is reachable (docker info failed). Start Docker on this machine: the deploy reaches ClickHouse and Grafana at their published ports on 127.0.0.1, so a remote DOCKER_HOST is not supported." >&2
      exit 1
    fi ;;
esac

if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  if [ "$stack" = "dev" ]; then
    export PULUMI_CONFIG_PASSPHRASE="$DEV_PASSPHRASE"
  else
    echo "Stack '$stack' needs a passphrase for its secrets: export PULUMI_CONFIG_PASSPHRASE=... (keep it safe)" >&2
    exit 1
  fi
fi

mkdir -p .pulumi-state
export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
export PULUMI_SKIP_UPDATE_CHECK=true

[ -d node_modules ] || npm ci --no-audit --no-fund

if ! pulumi stack select "$stack" --non-interactive >/dev/null 2>&1; then
  pulumi stack init "$stack" --secrets-provider passphrase --non-interactive
fi
exec pulumi "$@" --stack "$stack"
