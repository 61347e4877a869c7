"""The stack's own middleware; `actors.broker.build_stack` lists them, with Dramatiq's, in order.

- `history`: the run history of every message (`RunHistory`).
- `retries`: the written-out retry policy (`PolicyRetries`).
- `cancel`: cancellation of messages that wait (`Cancellation`).
- `recycle`: worker recycling after N messages or M MB (`Recycle`).
- `workers`: checks at start (`StartupChecks`) and heartbeats (`Heartbeats`).
- `logs`: log set-up in worker processes, with the message being processed (`LogSetup`).
- `batches`: a batch member's end told to its batch (`BatchReports`).
"""
