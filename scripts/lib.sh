# Shared by scripts/with-*.sh; sourced, not run.

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# install_service PACKAGE SERVICE installs a Debian package whose install
# would start a system service, keeping it from starting (policy-rc.d) and
# stopping it if it started anyway: the tests run instances of their own.
install_service() {
	local pkg=$1 service=$2 policy=/usr/sbin/policy-rc.d created_policy=
	export DEBIAN_FRONTEND=noninteractive
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
		as_root chmod +x "$policy"
		created_policy=1
	fi
	as_root apt-get update -qq
	as_root apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
	if [ -n "$created_policy" ]; then as_root rm -f "$policy"; fi
	if command -v systemctl >/dev/null 2>&1; then as_root systemctl stop "$service" >/dev/null 2>&1 || true; fi
	as_root service "$service" stop >/dev/null 2>&1 || true
}

# free_port prints a loopback TCP port that was free a moment ago.
free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
	else
		echo $((20000 + RANDOM % 20000))
	fi
}
