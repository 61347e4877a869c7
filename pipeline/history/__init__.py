"""Run history: every message's life, written to PostgreSQL without blocking the message.

- `events`: `RunEvent`, one thing that happened to a message, and its JSON forms.
- `journal`: journal files on local disk, until the events are in PostgreSQL.
- `store`: writing a batch, keeping what the database refuses.
- `writer`: `HistoryWriter`, a process's background writer (or its hand-over to the sidecar).
- `sidecar`: the process that writes what a `dramatiq` command's workers journal.
- `reads`: a run's life by message id, searches, and the text a person reads.

The SQL is in `pipeline.sql.runs`.
"""
