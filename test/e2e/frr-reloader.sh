#!/usr/bin/env bash
# The e2e's reloader for frr-k8s (one per region, inside the region's mount namespace): frr-k8s
# writes /etc/frr_reloader/frr.conf and sends SIGHUP to the pid in reloader.pid; this applies the
# file with Debian's /usr/lib/frr/frr-reload.py and records the outcome where frr-k8s reads it
# (.status "<epoch> success|failure", last-error, running-config).
#
# frr-k8s ships a reloader script doing the same, written for FRR 10. With Debian's FRR 8.4 its
# first reload of every new neighbour with graceful restart fails: frr-reload.py applies
# `neighbor X graceful-restart` in its second pass again, and FRR 8.4 refuses the repeat ("The
# Graceful Restart command used is not valid at this moment") although the first one took effect.
# This reloader therefore runs frr-reload.py once more after a failure: a configuration FRR
# really refuses fails both times, one already applied passes the second.
set -u -o pipefail

SHARED="${SHARED_VOLUME:-/etc/frr_reloader}"
FILE="$SHARED/frr.conf"
LOCK="$SHARED/lock"
RELOAD=(python3 /usr/lib/frr/frr-reload.py --reload --overwrite --stdout "$FILE")

# Passwords never reach the log.
redact() { sed 's/password .*/password <retracted>/g'; }

reload() {
  exec 9<"$LOCK"
  flock 9
  echo "SIGHUP: applying $FILE"
  local started=$SECONDS ok=false attempt
  for attempt in 1 2; do
    if "${RELOAD[@]}" 2>"$SHARED/last-error.tmp" | redact; then
      ok=true
      break
    fi
    echo "frr-reload.py attempt $attempt failed:"
    redact <"$SHARED/last-error.tmp"
  done
  vtysh -c "show running-config" >"$SHARED/running-config.tmp" 2>/dev/null && mv "$SHARED/running-config.tmp" "$SHARED/running-config"
  if $ok; then
    : >"$SHARED/last-error"
    printf '%s success' "$(date +%s)" >"$SHARED/.status"
    echo "FRR reloaded successfully in $((SECONDS - started)) s (attempt $attempt)"
  else
    redact <"$SHARED/last-error.tmp" >"$SHARED/last-error"
    printf '%s failure' "$(date +%s)" >"$SHARED/.status"
    echo "Failed to fully apply configuration file in $((SECONDS - started)) s"
  fi
  rm -f "$SHARED/last-error.tmp"
  exec 9<&-
}

trap 'exit 0' TERM INT
# A reload runs in the background so that a HUP arriving meanwhile is not lost; the lock orders them.
trap 'reload &' HUP

touch "$LOCK"
# frr-k8s parses the file as a bare number: no newline.
printf "%s" "$$" >"$SHARED/reloader.pid"
echo "reloader pid $$"
while true; do
  sleep infinity &
  wait $! 2>/dev/null
done
