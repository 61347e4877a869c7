"""What an operator does and sees, shared by the dashboard, the admin API and the CLI.

- `rabbit`: queue depths and rates, peek, purge, dead-letter requeue and delete.
- `actions`: cancel and retry a run, each checked against its history and recorded first.
- `inspection`: `stonks inspect` (active, registered, stats, scheduled).
- `dispatch`: the protocol by which they send messages (`actors.dispatcher` implements it).
- `health`, `metrics`: the services' checks, and the Prometheus collector.
"""
