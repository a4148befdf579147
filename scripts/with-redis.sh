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

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

server=$(command -v redis-server || true)
if [ -z "$server" ] && [ -x /usr/bin/redis-server ]; then
	server=/usr/bin/redis-server
fi
if [ -z "$server" ]; then
	echo "with-redis: installing redis-server from Debian's packages" >&2
	install_service redis-server redis-server
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
