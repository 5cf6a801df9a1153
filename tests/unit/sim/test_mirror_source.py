"""The paper mirror's source client: public data only, no key, on a public-data host where there is one."""

from __future__ import annotations

from urllib.parse import urlsplit

import ccxt
import pytest

from nonstop.config import SimMirror
from nonstop.sim.mirror import source_client, source_config


def test_binance_live_source_reads_the_public_data_hosts_with_no_key() -> None:
    config = source_config(SimMirror(exchange="binance", network="live"))
    api = config["urls"]["api"]
    assert config["apiKey"] == "" and config["secret"] == ""
    assert {urlsplit(api[k]).hostname for k in ("public", "private", "sapi")} == {"data-api.binance.vision"}
    assert urlsplit(api["ws"]["spot"]).hostname == "data-stream.binance.vision"


def test_okx_live_source_has_no_key_and_ccxt_refuses_private_calls() -> None:
    client = source_client(SimMirror(exchange="okx", network="live"))
    assert not client.apiKey and not client.secret and not client.password
    with pytest.raises(ccxt.AuthenticationError, match="apiKey"):  # a private call never leaves the process
        client.check_required_credentials()
