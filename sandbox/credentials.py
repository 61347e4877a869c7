"""The only credentials the sandbox accepts. They open nothing anywhere else."""

from __future__ import annotations

SANDBOX_CREDENTIALS: dict[str, str] = {
    "brickset_api_key": "3-SBox-Fig5-St0nk",
    "brickset_username": "sandbox-collector",
    "brickset_password": "s3cret+sandbox",  # the "+" catches a client that forgets to encode the form
    "rebrickable_api_key": "5a4db0c0ffee42stonks0sandbox0key",
    "ebay_client_id": "MinifigS-Stonks-SBX-7f3a9c2e1-0b5d8e4f",
    "ebay_client_secret": "SBX-7f3a9c2e1b5d-8e4f-4a1b-9c3d-2e",
    "bricklink_consumer_key": "SBXCONSUMER7F3A9C2E1B5D8E4F",
    "bricklink_consumer_secret": "SBXCONSUMERSECRET0B5D8E4F4A1B",
    "bricklink_token_value": "SBXTOKEN9C3D2E7F3A9C2E1B5D8E",
    "bricklink_token_secret": "SBXTOKENSECRET4A1B9C3D2E7F3A",
}
