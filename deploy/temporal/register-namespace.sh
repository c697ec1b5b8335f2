#!/bin/sh
# Creates the namespace and the custom search attributes Holdfast's workflows set
# (workflows/search-attributes.ts), and sets the namespace's retention. Idempotent: whatever
# already exists is left as it is, except the retention, which follows TEMPORAL_NAMESPACE_RETENTION.
#
# With SQL visibility, custom search attributes belong to a namespace, hence --namespace.
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
# How long closed workflows stay inspectable (7 days by default); an existing namespace is updated to it.
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-168h}"
# name:type pairs; keep in step with workflows/search-attributes.ts.
SEARCH_ATTRIBUTES="TenantId:Keyword BusinessKey:Keyword FlowStatus:Keyword"

# Upstream's compose scripts dial the server by IPv4 address; the CLI can otherwise pick an
# address the server does not listen on.
host=${ADDRESS%:*}
port=${ADDRESS##*:}
ip=$(getent ahosts "$host" 2>/dev/null | awk '$1 ~ /^[0-9.]+$/ { print $1; exit }') || true
if [ -n "${ip:-}" ]; then ADDRESS="$ip:$port"; fi
export TEMPORAL_ADDRESS="$ADDRESS"

# retry N COMMAND...: runs COMMAND until it succeeds, at most N times, 2 s apart.
retry() {
  tries=$1
  shift
  n=1
  until "$@"; do
    if [ "$n" -ge "$tries" ]; then return 1; fi
    n=$((n + 1))
    sleep 2
  done
}

echo "Waiting for Temporal at $ADDRESS"
retry 60 temporal operator cluster health >/dev/null

if temporal operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; then
  # A namespace created with an earlier, shorter retention gets the configured one.
  retry 30 temporal operator namespace update --namespace "$NAMESPACE" --retention "$RETENTION" >/dev/null
  echo "Namespace $NAMESPACE exists (retention set to $RETENTION)"
else
  temporal operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION"
  echo "Namespace $NAMESPACE created (retention $RETENTION)"
fi

has_attribute() {
  temporal operator search-attribute list --namespace "$NAMESPACE" 2>/dev/null | grep -qw "$1"
}

create_attribute() {
  name=$1
  type=$2
  if has_attribute "$name"; then return 0; fi
  # "already exists" covers a concurrent or earlier run; any other error is retried.
  if output=$(temporal operator search-attribute create --namespace "$NAMESPACE" --name "$name" --type "$type" 2>&1); then
    return 0
  fi
  case "$output" in
    *"already exists"*) return 0 ;;
    *) echo "$output" >&2; return 1 ;;
  esac
}

for attribute in $SEARCH_ATTRIBUTES; do
  name=${attribute%%:*}
  type=${attribute#*:}
  # A namespace created a moment ago may not be visible to every service yet.
  retry 30 create_attribute "$name" "$type"
  echo "Search attribute $name ($type) registered"
done

# The new attributes must be listed before workers start flows that set them.
for attribute in $SEARCH_ATTRIBUTES; do
  retry 30 has_attribute "${attribute%%:*}"
done
echo "Namespace $NAMESPACE is ready"
