#!/usr/bin/env bash
# Make sure the services the platform talks to answer on this machine: PostgreSQL, Redis, Mosquitto.
# Starts a service that is installed but down; says exactly what to run when one is missing.
# Hosts and ports come from the same variables as the settings (defaults: the local services).
set -euo pipefail

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

missing() {  # missing NAME PACKAGE
  echo "ensure_services: $1 is not installed. Install it with: apt-get update && apt-get install -y $2" >&2
  exit 1
}

if ! answers "$pg_host" "$pg_port"; then
  command -v pg_ctlcluster >/dev/null || missing PostgreSQL postgresql
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "ensure_services: starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  wait_for PostgreSQL "$pg_host" "$pg_port"
fi

if ! answers 127.0.0.1 "$redis_port"; then
  command -v redis-server >/dev/null || missing Redis redis-server
  echo "ensure_services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$redis_port" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/esp-platform.log
  wait_for Redis 127.0.0.1 "$redis_port"
fi

if ! answers 127.0.0.1 "$mqtt_port"; then
  command -v mosquitto >/dev/null || missing Mosquitto mosquitto
  echo "ensure_services: starting Mosquitto"
  if [ -f /etc/mosquitto/mosquitto.conf ]; then
    mosquitto -d -c /etc/mosquitto/mosquitto.conf
  else
    mosquitto -d -p "$mqtt_port"
  fi
  wait_for Mosquitto 127.0.0.1 "$mqtt_port"
fi
