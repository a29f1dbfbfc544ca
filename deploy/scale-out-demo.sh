#!/usr/bin/env bash
# The "Scaling out" example of docs/storage-and-scaling.md, run on loopback: three addrservice
# instances over one PostgreSQL database, behind nginx on 127.0.0.1:8080. Needs nginx, a PostgreSQL
# server and `npm run build`. Usage: deploy/scale-out-demo.sh [ADMIN_URL]  (default: local trust auth)
set -euo pipefail
cd "$(dirname "$0")/.."

admin_url=${1:-postgres://postgres@127.0.0.1:5432/postgres}
database=addrservice_demo
db_url=${admin_url%/*}/$database
work=$(mktemp -d)
pids=()

cleanup() {
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

psql "$admin_url" -qAtc "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1 ||
  psql "$admin_url" -qc "CREATE DATABASE $database"

for port in 8081 8082 8083; do
  ADDRSERVICE_DB=$db_url node dist/main.js --config deploy/instance.yaml --port "$port" >"$work/instance-$port.log" 2>&1 &
  pids+=($!)
done
nginx -p "$work" -c "$PWD/deploy/nginx/nginx.conf" 2>"$work/nginx.log" &
for port in 8081 8082 8083 8080; do
  for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
done

echo "# create through the load balancer"
location=$(curl -s -D - -o /dev/null -X POST http://127.0.0.1:8080/addresses -d '{"full_name": "Bill Gates"}' |
  tr -d '\r' | sed -n 's/^location: //Ip')
echo "Location: $location"
for port in 8081 8082 8083; do
  echo "# read it back directly from the instance on :$port"
  curl -s "http://127.0.0.1:$port$location"; echo
done
echo "# ten reads through the load balancer, with the instance that answered each"
for i in $(seq 1 10); do
  curl -s -o /dev/null -H "X-Request-ID: demo-$i" "http://127.0.0.1:8080$location"
done
sleep 0.5
for port in 8081 8082 8083; do
  echo ":$port answered $(grep -c '"req_id":"demo-' "$work/instance-$port.log" || true)"
done
echo "# stop one instance: the others keep serving"
kill -TERM "${pids[0]}"
sleep 3
for i in $(seq 1 5); do curl -s -o /dev/null -w "%{http_code} " "http://127.0.0.1:8080$location"; done; echo
