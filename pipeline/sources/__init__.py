"""Clients of the external APIs (Brickset, Rebrickable, eBay, BrickLink) and their errors.

Build clients with the factories; catch `TransientSourceError` to retry later
(`QuotaExceeded`: defer until the quota resets) and `PermanentSourceError`
to give up.
"""

from pipeline.sources.errors import (
    AuthError,
    PermanentSourceError,
    QuotaExceeded,
    RateLimited,
    RecordNotFound,
    SourceError,
    TransientSourceError,
)
from pipeline.sources.factory import (
    make_bricklink_client,
    make_catalog_client,
    make_ebay_client,
)

__all__ = [
    "AuthError",
    "PermanentSourceError",
    "QuotaExceeded",
    "RateLimited",
    "RecordNotFound",
    "SourceError",
    "TransientSourceError",
    "make_bricklink_client",
    "make_catalog_client",
    "make_ebay_client",
]
