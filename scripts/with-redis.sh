#!/usr/bin/env bash
# Runs a command with a real redis-server on a free loopback port:
#
#   ./scripts/with-redis.sh go test -race -count=1 ./...
#
# Installs redis-server from Debian's packages if it is missing, starts it
# without persistence, waits until it answers PING, exports
# TOLLGATE_REDIS_ADDR=127.0.0.1:PORT and TOLLGATE_REDIS_SERVER=/path/to/
# redis-server (tests that stop and restart their own instance use it), runs
# the command, stops redis on exit and exits with the command's status.
set -euo pipefail

if [ "$#" -eq 0 ]; then
	echo "usage: $0 command [args...]" >&2
	exit 2
fi

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

server=$(command -v redis-server || true)
if [ -z "$server" ] && [ -x /usr/bin/redis-server ]; then
	server=/usr/bin/redis-server
fi
if [ -z "$server" ]; then
	echo "with-redis: installing redis-server from Debian's packages" >&2
	export DEBIAN_FRONTEND=noninteractive
	# The package starts a system service; keep it from starting (policy-rc.d)
	# and stop it if it started anyway: tests use their own instance.
	policy=/usr/sbin/policy-rc.d
	created_policy=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
		as_root chmod +x "$policy"
		created_policy=1
	fi
	as_root apt-get update -qq
	as_root apt-get install -y -qq --no-install-recommends redis-server >/dev/null
	if [ -n "$created_policy" ]; then as_root rm -f "$policy"; fi
	if command -v systemctl >/dev/null 2>&1; then as_root systemctl stop redis-server >/dev/null 2>&1 || true; fi
	as_root service redis-server stop >/dev/null 2>&1 || true
	server=$(command -v redis-server || echo /usr/bin/redis-server)
fi
cli=$(command -v redis-cli || true)

dir=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-redis.XXXXXX")
pidfile="$dir/redis.pid"

cleanup() {
	if [ -s "$pidfile" ]; then
		pid=$(cat "$pidfile")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
	else
		echo $((20000 + RANDOM % 20000))
	fi
}

ping() {
	if [ -n "$cli" ]; then
		[ "$("$cli" -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = "PONG" ]
	else
		exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null || return 1
		printf 'PING\r\n' >&3
		read -r -t 1 reply <&3 || true
		exec 3>&-
		[ "${reply%$'\r'}" = "+PONG" ]
	fi
}

started=
for _ in 1 2 3; do
	port=$(free_port)
	"$server" --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$dir" --daemonize yes --pidfile "$pidfile" \
		--logfile "$dir/redis.log" >/dev/null
	for _ in $(seq 100); do
		if ping; then
			started=1
			break
		fi
		sleep 0.05
	done
	[ -n "$started" ] && break
	[ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
done
if [ -z "$started" ]; then
	echo "with-redis: redis-server did not answer PING" >&2
	cat "$dir/redis.log" >&2 2>/dev/null || true
	exit 1
fi

export TOLLGATE_REDIS_ADDR="127.0.0.1:$port"
export TOLLGATE_REDIS_SERVER="$server"
echo "with-redis: redis-server at $TOLLGATE_REDIS_ADDR" >&2

status=0
"$@" || status=$?
exit "$status"
