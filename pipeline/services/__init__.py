"""Use cases of the pipeline: catalog sync, price fetch, aggregation, cleanup, backfill, batches.

Services take a Session (and, where they call an API, a client) and never
commit: the caller's session scope owns the transaction. The few use cases that
must commit in steps (cleanup, converging days) take the session scope itself
and open one short transaction per step. The clock is an argument (`now`,
`today`), never read here.
"""
