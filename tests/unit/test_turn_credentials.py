"""ICE server configuration and coturn TURN REST API credentials (cloud_bridge.turn)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest
from pydantic import ValidationError

from cloud_bridge.turn import (
    IceServerConfig,
    ice_servers_for,
    rest_credentials,
    sanitize_peer,
)

NOW = 1_700_000_000.9


def test_known_answer_of_the_hmac_scheme() -> None:
    # computed independently:
    #   printf '%s' "1700003600:booth-07" | openssl dgst -sha1 -hmac "s3cr3t-north" -binary | base64
    username, credential = rest_credentials("s3cr3t-north", "booth-07", 1_700_000_000.0, 3600)
    assert username == "1700003600:booth-07"
    assert credential == "7O4z4/4JUBRG2/LmTek4VKRVBzU="


def test_secret_entry_mints_credentials_per_peer_with_expiry() -> None:
    cfg = IceServerConfig(urls=["turn:turn.example.org:3478?transport=udp"], secret="s3cr3t-north")
    assert cfg.ttl_s == 3600
    [server] = ice_servers_for([cfg], peer="booth-07", now=NOW - 0.9)
    assert server == {
        "urls": ["turn:turn.example.org:3478?transport=udp"],
        "username": "1700003600:booth-07",
        "credential": "7O4z4/4JUBRG2/LmTek4VKRVBzU=",
    }
    # the fraction of a second is dropped; another peer and ttl give another username
    cfg2 = IceServerConfig(urls=["turns:turn.example.org:5349"], secret="x", ttl_s=60)
    [server2] = ice_servers_for([cfg2], peer="agent-anna", now=NOW)
    assert server2["username"] == "1700000060:agent-anna"
    expected = hmac.new(b"x", b"1700000060:agent-anna", hashlib.sha1).digest()
    assert base64.b64decode(server2["credential"]) == expected


def test_fixed_and_stun_entries_pass_through_in_order() -> None:
    configs = [
        IceServerConfig(urls=["stun:stun.example.org:3478"]),
        IceServerConfig(urls=["turn:127.0.0.1:3478"], username="alice", credential="s3cret"),
    ]
    assert ice_servers_for(configs, peer="p", now=NOW) == [
        {"urls": ["stun:stun.example.org:3478"]},
        {"urls": ["turn:127.0.0.1:3478"], "username": "alice", "credential": "s3cret"},
    ]
    assert ice_servers_for([], peer="p", now=NOW) == []


@pytest.mark.parametrize(
    ("peer", "clean"),
    [
        ("booth-07", "booth-07"),
        ("a:b:c", "a_b_c"),  # ':' is coturn's timestamp separator
        ("Anna Müller/ä", "Anna_M_ller__"),
        ("agent@amt.example", "agent@amt.example"),
        ("", "peer"),
        ("x" * 200, "x" * 64),
    ],
)
def test_peer_is_sanitised(peer: str, clean: str) -> None:
    assert sanitize_peer(peer) == clean
    username, _ = rest_credentials("s", peer, NOW, 10)
    assert username == f"1700000010:{clean}"
    assert username.count(":") == 1


def test_secret_is_not_shown_in_repr() -> None:
    cfg = IceServerConfig(urls=["turn:h"], secret="very-secret")
    assert "very-secret" not in repr(cfg)
    assert "very-secret" not in str(cfg.model_dump())


def _error_locs(data: dict[str, Any]) -> dict[tuple[str | int, ...], str]:
    with pytest.raises(ValidationError) as info:
        IceServerConfig.model_validate(data)
    return {tuple(e["loc"]): e["msg"] for e in info.value.errors()}


@pytest.mark.parametrize(
    ("data", "loc", "words"),
    [
        ({"urls": ["http://turn.example.org"]}, ("urls", 0), "stun:, turn: or turns:"),
        ({"urls": ["stun:ok", "turn"]}, ("urls", 1), "must start with"),
        ({"urls": ["turn:"], "secret": "s"}, ("urls", 0), "no host"),
        ({"urls": []}, ("urls",), "at least 1"),
        ({}, ("urls",), "Field required"),
        ({"urls": ["turn:h"], "username": "u"}, ("credential",), "without credential"),
        ({"urls": ["turn:h"], "credential": "c"}, ("credential",), "without username"),
        (
            {"urls": ["turn:h"], "username": "u", "credential": "c", "secret": "s"},
            ("secret",),
            "not both",
        ),
        ({"urls": ["turn:h"]}, ("secret",), "need username and credential, or secret"),
        ({"urls": ["turns:h"], "secret": ""}, ("secret",), "must not be empty"),
        ({"urls": ["turn:h"], "secret": "s", "ttl_s": 0}, ("ttl_s",), "greater than 0"),
        ({"urls": ["turn:h"], "secret": "s", "ttl": 60}, ("ttl",), "Extra inputs"),
    ],
)
def test_validation_errors_name_the_field(
    data: dict[str, Any], loc: tuple[str | int, ...], words: str
) -> None:
    errors = _error_locs(data)
    assert loc in errors, errors
    assert words in errors[loc]


def test_stun_only_entry_needs_no_credentials() -> None:
    cfg = IceServerConfig(urls=["stun:stun.example.org"])
    assert cfg.username is None and cfg.secret is None
