#!/usr/bin/env bash
# Runs a command with a real PostgreSQL server on a free loopback port:
#
#   ./scripts/with-postgres.sh go test -race -count=1 ./...
#
# Installs PostgreSQL from Debian's packages if it is missing, initialises a
# throw-away cluster in a temporary directory owned by an unprivileged user
# (postgres refuses to run as root: the "postgres" user when it exists, else
# one created for the purpose), starts it on 127.0.0.1 with its socket in
# that directory, creates the database "tollgate", exports
#
#   TOLLGATE_POSTGRES_URL=postgres://tollgate@127.0.0.1:PORT/tollgate?sslmode=disable
#   TOLLGATE_POSTGRES_BIN=/usr/lib/postgresql/N/bin   (initdb, pg_ctl, postgres)
#
# runs the command, stops the server and removes the directory on exit, and
# exits with the command's status. The cluster trusts local connections and
# runs without fsync: it holds test data only and lives as long as the
# command.
set -euo pipefail

if [ "$#" -eq 0 ]; then
	echo "usage: $0 command [args...]" >&2
	exit 2
fi

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

# bindir finds the directory of initdb and pg_ctl: pg_config's, else the
# newest /usr/lib/postgresql/N/bin.
bindir() {
	local d
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir 2>/dev/null || true)
		if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return
		fi
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return
		fi
	done
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
	fi
}

bin=$(bindir)
if [ -z "$bin" ]; then
	echo "with-postgres: installing postgresql from Debian's packages" >&2
	install_service postgresql postgresql
	bin=$(bindir)
	if [ -z "$bin" ]; then
		echo "with-postgres: postgresql installed but initdb not found" >&2
		exit 1
	fi
fi

# run_as runs a command as the cluster's owner: ourselves when not root,
# else an unprivileged user.
owner=
if [ "$(id -u)" -eq 0 ]; then
	owner=postgres
	if ! id "$owner" >/dev/null 2>&1; then
		owner=tollgate-pg
		id "$owner" >/dev/null 2>&1 || useradd --system --no-create-home --shell /bin/sh "$owner"
	fi
fi
run_as() {
	if [ -z "$owner" ]; then
		"$@"
	elif command -v runuser >/dev/null 2>&1; then
		runuser -u "$owner" -- "$@"
	else
		su "$owner" -s /bin/sh -c "$(printf '%q ' "$@")"
	fi
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-postgres.XXXXXX")
chmod 700 "$dir"
if [ -n "$owner" ]; then chown "$owner" "$dir"; fi
data="$dir/data"
log="$dir/postgres.log"

cleanup() {
	if [ -f "$data/postmaster.pid" ]; then
		run_as "$bin/pg_ctl" -D "$data" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

run_as "$bin/initdb" -D "$data" -U tollgate -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 || {
	echo "with-postgres: initdb failed" >&2
	cat "$dir/initdb.log" >&2
	exit 1
}

started=
for _ in 1 2 3; do
	port=$(free_port)
	if run_as "$bin/pg_ctl" -D "$data" -l "$log" -w -t 30 \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
		start >/dev/null 2>&1; then
		started=1
		break
	fi
done
if [ -z "$started" ]; then
	echo "with-postgres: postgres did not start" >&2
	cat "$log" >&2 2>/dev/null || true
	exit 1
fi
run_as "$bin/createdb" -h "$dir" -p "$port" -U tollgate tollgate

export TOLLGATE_POSTGRES_URL="postgres://tollgate@127.0.0.1:$port/tollgate?sslmode=disable"
export TOLLGATE_POSTGRES_BIN="$bin"
echo "with-postgres: postgres at 127.0.0.1:$port ($("$bin/postgres" --version))" >&2

status=0
"$@" || status=$?
exit "$status"
