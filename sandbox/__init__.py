"""Local stand-ins for Brickset v3, Rebrickable v3, eBay (OAuth + Browse) and BrickLink's price guide.

One `SandboxServer` serves all four over a real socket, each under its own prefix,
speaking the protocols of docs API_REFERENCE.md with sample data grown from a
seed, and injects faults on request. Point a client's base-URL setting at
`server.base_urls()[name]` and give it `SANDBOX_CREDENTIALS`; nothing else is accepted.

    brickset     {url}/brickset/api/v3.asmx
    rebrickable  {url}/rebrickable/api/v3
    ebay         {url}/ebay                       (identity/v1/oauth2/token, buy/browse/v1/...)
    bricklink    {url}/bricklink/api/store/v1
"""

from .credentials import SANDBOX_CREDENTIALS
from .data import Catalog, LegoSet, Minifig, Theme, catalog
from .listings import Listing, listings_for
from .server import SandboxServer

__all__ = ["SANDBOX_CREDENTIALS", "Catalog", "LegoSet", "Listing", "Minifig", "SandboxServer", "Theme", "catalog",
           "listings_for"]
