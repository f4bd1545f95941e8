#!/usr/bin/env bash
# Install and start the whole platform locally: SQLite, the simulated cluster, local object
# storage and GraphiQL at http://127.0.0.1:8000/graphql. Arguments go to `walkai-jobs dev`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh dev
exec .venv/bin/walkai-jobs dev "$@"
