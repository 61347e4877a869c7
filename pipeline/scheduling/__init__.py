"""Scheduling: pure cron maths (`cron`), the schedule table (`table`), and what its ticks did (`ticks`).

The runners (periodiq, APScheduler) are in the top-level `schedules` package; the
claims of ticks in PostgreSQL are `pipeline.sql.ticks`.
"""
