#!/usr/bin/env bash
# Make sure the services the platform talks to answer on this machine: PostgreSQL, Redis, Mosquitto.
# Starts a service that is installed but down; says exactly what to run when one is missing.
# Hosts and ports come from the same variables as the settings (defaults: the local services).
#
# SERVICES says what a missing one means:
#   system   (default; make test) every service must be installed: a missing one stops with the apt-get line;
#   auto     (make run) a missing PostgreSQL or Redis is left to operations/embedded.py to embed from PyPI,
#            a missing Mosquitto means no MQTT broker (devices and the simulator can send over HTTP);
#   embedded (make run SERVICES=embedded) PostgreSQL and Redis are embedded: only Mosquitto is looked at.
set -euo pipefail

mode=${SERVICES:-system}
case "$mode" in
  system|auto|embedded) ;;
  *) echo "ensure_services: SERVICES must be system, auto or embedded, got '$mode'" >&2; exit 1 ;;
esac

pg_host=${PGHOST:-127.0.0.1}
pg_port=${PGPORT:-5432}
redis_port=${REDIS_PORT:-6379}
mqtt_port=${MQTT_PORT:-1883}

answers() {  # answers HOST PORT: is something listening there?
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

wait_for() {  # wait_for NAME HOST PORT
  for _ in $(seq 1 30); do
    answers "$2" "$3" && return 0
    sleep 0.5
  done
  echo "ensure_services: $1 was started but does not answer on $2:$3" >&2
  return 1
}

missing() {  # missing NAME PACKAGE WHAT-MAKE-RUN-DOES-INSTEAD: stops in system mode, says what happens otherwise
  if [ "$mode" = system ]; then
    echo "ensure_services: $1 is not installed. Install it with: apt-get update && apt-get install -y $2" >&2
    exit 1
  fi
  echo "ensure_services: $1 is not installed here: $3 (apt-get install -y $2 to use this machine's)."
}

if [ "$mode" != embedded ] && ! answers "$pg_host" "$pg_port"; then
  if command -v pg_ctlcluster >/dev/null; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    echo "ensure_services: starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    wait_for PostgreSQL "$pg_host" "$pg_port"
  else
    missing PostgreSQL postgresql "make run embeds one"
  fi
fi

if [ "$mode" != embedded ] && ! answers 127.0.0.1 "$redis_port"; then
  if command -v redis-server >/dev/null; then
    echo "ensure_services: starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$redis_port" --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/esp-platform.log
    wait_for Redis 127.0.0.1 "$redis_port"
  else
    missing Redis redis-server "make run embeds one"
  fi
fi

if ! answers 127.0.0.1 "$mqtt_port"; then
  if command -v mosquitto >/dev/null; then
    echo "ensure_services: starting Mosquitto"
    if [ -f /etc/mosquitto/mosquitto.conf ]; then
      mosquitto -d -c /etc/mosquitto/mosquitto.conf
    else
      mosquitto -d -p "$mqtt_port"
    fi
    wait_for Mosquitto 127.0.0.1 "$mqtt_port"
  else
    missing Mosquitto mosquitto "no MQTT broker; devices and the simulator can send over HTTP"
  fi
fi
