#!/bin/sh
# The image's commands. Each `exec`s so that the process gets SIGTERM directly.
set -e
cmd="${1:-worker}"
[ $# -gt 0 ] && shift
case "$cmd" in
  migrate)    exec stonks db upgrade "$@" ;;
  worker)     exec dramatiq actors --processes "${WORKER_PROCESSES:-2}" --threads "${WORKER_THREADS:-4}" "$@" ;;
  scheduler)  exec periodiq schedules.periodiq "$@" ;;
  apscheduler) exec python -m schedules "$@" ;;
  dashboard)  exec stonks dashboard --host 0.0.0.0 "$@" ;;
  sandbox)    exec stonks sandbox --host 0.0.0.0 "$@" ;;
  stonks)     exec stonks "$@" ;;
  *)          exec "$cmd" "$@" ;;
esac
