"""Set-wise SQL: one statement per page or per day, never a round trip per row.

Each module holds the statements of one table family and thin functions that
run them on the caller's session (they never commit). Rows travel as one array
per column through `unnest`, so a page of listings is one INSERT … ON CONFLICT.
"""
