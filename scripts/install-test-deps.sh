#!/usr/bin/env bash
# Install what the test suite needs: real Redis, PostgreSQL and etcd servers (the tests start
# their own instances on free loopback ports), promtool, and the project with its extras.
#
# Idempotent and fast when everything is already present: apt is only touched when a binary is
# missing. The system services that Debian's packages would start are stopped and disabled,
# because the tests never use them.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[install-test-deps] %s\n' "$*" >&2; }

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    SUDO=()
fi

have_postgres() {
    local d
    if command -v pg_config >/dev/null 2>&1; then
        d="$(pg_config --bindir 2>/dev/null || true)"
        if [ -n "$d" ] && [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_basebackup" ]; then
            return 0
        fi
    fi
    for d in /usr/lib/postgresql/*/bin; do
        if [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_basebackup" ]; then
            return 0
        fi
    done
    return 1
}

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
have_postgres || missing+=(postgresql)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
want_prometheus=0
command -v promtool >/dev/null 2>&1 || want_prometheus=1

installed_something=0
if [ "${#missing[@]}" -gt 0 ] || [ "$want_prometheus" -eq 1 ]; then
    log "missing: ${missing[*]:-} $([ "$want_prometheus" -eq 1 ] && echo prometheus)"
    "${SUDO[@]}" apt-get update -qq

    if [ "$want_prometheus" -eq 1 ]; then
        candidate="$(apt-cache policy prometheus 2>/dev/null | awk '/Candidate:/ {print $2}')"
        if [ -n "$candidate" ] && [ "$candidate" != "(none)" ]; then
            missing+=(prometheus)
        else
            log "WARNING: Debian package 'prometheus' is not installable here; promtool will be" \
                "missing and the tests that need it will fail."
        fi
    fi

    if [ "${#missing[@]}" -gt 0 ]; then
        # Keep the packages' maintainer scripts from starting their services at all, when this
        # machine does not already forbid it (Docker-style images ship their own policy-rc.d).
        policy=/usr/sbin/policy-rc.d
        own_policy=0
        if [ ! -e "$policy" ] && [ -w /usr/sbin ]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy"
            chmod 0755 "$policy"
            own_policy=1
            trap 'rm -f /usr/sbin/policy-rc.d' EXIT
        fi
        log "apt-get install ${missing[*]}"
        if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends "${missing[@]}"; then
            # prometheus is nice-to-have: retry without it rather than failing everything.
            if [[ " ${missing[*]} " == *" prometheus "* ]]; then
                log "WARNING: installing with prometheus failed; retrying without it"
                rest=()
                for p in "${missing[@]}"; do [ "$p" = prometheus ] || rest+=("$p"); done
                if [ "${#rest[@]}" -gt 0 ]; then
                    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
                        apt-get install -y --no-install-recommends "${rest[@]}"
                fi
            else
                exit 1
            fi
        fi
        if [ "$own_policy" -eq 1 ]; then
            rm -f "$policy"
            trap - EXIT
        fi
        installed_something=1
    fi
fi

# The tests run their own instances on free ports: make sure the packaged services are not left
# running (Debian starts redis-server, postgresql and etcd on install) nor started at boot.
stop_service() {
    local svc="$1"
    [ -e "/etc/init.d/$svc" ] || [ -e "/lib/systemd/system/$svc.service" ] || return 0
    "${SUDO[@]}" service "$svc" stop >/dev/null 2>&1 || true
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        "${SUDO[@]}" systemctl disable "$svc" >/dev/null 2>&1 || true
    fi
    if command -v update-rc.d >/dev/null 2>&1 && [ -e "/etc/init.d/$svc" ]; then
        "${SUDO[@]}" update-rc.d "$svc" disable >/dev/null 2>&1 || true
    fi
}
if [ "$installed_something" -eq 1 ] || [ "${TIERCONF_STOP_SERVICES:-0}" = 1 ]; then
    for svc in redis-server postgresql etcd prometheus; do
        stop_service "$svc"
    done
else
    # Cheap check on the fast path: only act when a packaged service is actually running.
    for svc in redis-server postgresql etcd prometheus; do
        if [ -e "/etc/init.d/$svc" ] && "${SUDO[@]}" service "$svc" status >/dev/null 2>&1; then
            stop_service "$svc"
        fi
    done
fi

for bin in redis-server etcd; do
    command -v "$bin" >/dev/null 2>&1 || { log "ERROR: $bin is still missing"; exit 1; }
done
have_postgres || { log "ERROR: PostgreSQL server binaries are still missing"; exit 1; }
command -v promtool >/dev/null 2>&1 || log "WARNING: promtool is not available"

log "pip install -e '.[all,dev]'"
cd "$repo_root"
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e '.[all,dev]'
log "done"
