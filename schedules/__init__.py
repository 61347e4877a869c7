"""The schedule table and its two runners.

    periodiq schedules.periodiq     the periodiq process (what `stonks up` starts)
    python -m schedules             the same table run by APScheduler
    python -m schedules --check     validate the table against the actors, print it, exit
    stonks schedule [--json]        each entry's last tick, outcome, next tick, late or missed

The table is `schedules/default.yaml`, or the file the SCHEDULE_FILE setting names
(format and catch-up rules: pipeline/schedule_table.py). Any number of runners of
either kind may run at once: each tick is claimed in PostgreSQL before its message
is sent, and only the process that wins the claim sends it (pipeline/sql/ticks.py,
schedules/beat.py). A claim whose send failed stays unsent and is sent again, with
the same message id, by a sweep every 30 s.

Workers do not install periodiq's PeriodiqMiddleware, which skips a message that
starts more than 30 s after its tick: a tick picked up late runs late, and the run
history says how late (`runs.scheduled_for` against `started_at`).
"""
