"""ICE servers (STUN/TURN) the bridge hands to WebRTC peers, with time-limited TURN credentials.

An :class:`IceServerConfig` is one ``RTCIceServer`` of the configuration: its ``urls``
(``stun:``, ``turn:`` or ``turns:``) and either fixed ``username``/``credential`` or a
``secret`` shared with coturn (``use-auth-secret`` + ``static-auth-secret=SECRET``, the "TURN
REST API"). For a ``secret`` entry, :func:`ice_servers_for` mints credentials per peer and call:
username ``"EXPIRY:PEER"`` (EXPIRY = ``int(now) + ttl_s``, Unix seconds) and credential
``base64(HMAC-SHA1(secret, username))``; coturn recomputes the HMAC and refuses the username
once EXPIRY has passed. The secret itself never leaves the bridge.

>>> cfg = IceServerConfig(urls=["turn:turn.example.org:3478"], secret="north", ttl_s=600)
>>> ice_servers_for([cfg], peer="booth-07", now=1_700_000_000.5)[0]["username"]
'1700000600:booth-07'

The dicts returned are WebRTC ``RTCIceServer`` dictionaries (``{"urls", "username",
"credential"}``): JSON for a browser, or ``aiortc.RTCIceServer(**d)`` in Python.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from typing import Annotated, NotRequired, TypedDict

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)

URL_SCHEMES = ("stun:", "turn:", "turns:")
DEFAULT_TTL_S = 3600
#: longest peer name kept in a minted username (STUN allows 513 bytes; keep it short)
PEER_MAX_LEN = 64
_PEER_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]")


def _check_url(url: str) -> str:
    scheme = next((s for s in URL_SCHEMES if url.startswith(s)), None)
    if scheme is None:
        raise ValueError(f"{url!r} must start with stun:, turn: or turns:")
    rest = url[len(scheme) :]
    if not rest or rest.startswith("?") or any(c.isspace() for c in url):
        raise ValueError(f"{url!r} has no host (or contains white space)")
    return url


IceUrl = Annotated[str, AfterValidator(_check_url)]
"""A ``stun:``, ``turn:`` or ``turns:`` URL with a host (errors name the list index)."""


class RtcIceServer(TypedDict):
    """A WebRTC ``RTCIceServer`` dictionary; username/credential only when there are any."""

    urls: list[str]
    username: NotRequired[str]
    credential: NotRequired[str]


class IceServerConfig(BaseModel):
    """One STUN/TURN server entry: ``urls`` plus fixed credentials or a TURN REST ``secret``.

    ``turn:``/``turns:`` URLs need either ``username`` and ``credential`` or ``secret``;
    ``secret`` excludes the fixed pair. ``ttl_s``: lifetime of minted credentials.
    """

    model_config = ConfigDict(extra="forbid")

    urls: list[IceUrl] = Field(
        min_length=1, description="STUN/TURN URLs (stun:, turn: or turns:) of this server."
    )
    username: str | None = Field(
        default=None, min_length=1, description="Fixed TURN user name (with credential)."
    )
    credential: str | None = Field(
        default=None,
        min_length=1,
        validate_default=True,
        description="Fixed TURN password (with username).",
    )
    secret: SecretStr | None = Field(
        default=None,
        validate_default=True,
        description="coturn's static-auth-secret: mint time-limited credentials per peer.",
    )
    ttl_s: int = Field(
        default=DEFAULT_TTL_S, gt=0, description="Lifetime of minted credentials, seconds."
    )

    @field_validator("credential")
    @classmethod
    def _check_pair(cls, credential: str | None, info: ValidationInfo) -> str | None:
        username = info.data.get("username")
        if username is not None and credential is None:
            raise ValueError("username is given without credential")
        if credential is not None and username is None and "username" in info.data:
            raise ValueError("credential is given without username")
        return credential

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, secret: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        fixed = info.data.get("username") is not None or info.data.get("credential") is not None
        if secret is not None:
            if not secret.get_secret_value():
                raise ValueError("secret must not be empty")
            if fixed:
                raise ValueError("use either secret or username/credential, not both")
            return secret
        urls = info.data.get("urls") or []
        if not fixed and "credential" in info.data and any(_is_turn(u) for u in urls):
            raise ValueError("turn:/turns: URLs need username and credential, or secret")
        return secret


def _is_turn(url: str) -> bool:
    return url.startswith(("turn:", "turns:"))


def sanitize_peer(peer: str) -> str:
    """``peer`` made safe for a TURN REST username: characters other than letters, digits and
    ``._@-`` become ``_`` (so no ``:``, coturn's timestamp separator), at most
    :data:`PEER_MAX_LEN` characters; an empty name becomes ``"peer"``."""
    cleaned = _PEER_UNSAFE.sub("_", peer)[:PEER_MAX_LEN]
    return cleaned or "peer"


def rest_credentials(secret: str, peer: str, now: float, ttl_s: int) -> tuple[str, str]:
    """``(username, credential)`` of coturn's TURN REST API scheme for ``peer``, valid until
    ``int(now) + ttl_s``: username ``"EXPIRY:PEER"`` (peer sanitised by :func:`sanitize_peer`),
    credential ``base64(HMAC-SHA1(secret, username))``."""
    username = f"{int(now) + ttl_s}:{sanitize_peer(peer)}"
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_servers_for(
    configs: Iterable[IceServerConfig], peer: str, now: float
) -> list[RtcIceServer]:
    """The ``RTCIceServer`` dicts for ``peer`` at Unix time ``now``, one per config entry.

    ``secret`` entries get freshly minted credentials (:func:`rest_credentials`), fixed entries
    their username/credential, STUN-only entries just ``urls``.
    """
    servers: list[RtcIceServer] = []
    for cfg in configs:
        server: RtcIceServer = {"urls": list(cfg.urls)}
        if cfg.secret is not None:
            server["username"], server["credential"] = rest_credentials(
                cfg.secret.get_secret_value(), peer, now, cfg.ttl_s
            )
        elif cfg.username is not None and cfg.credential is not None:
            server["username"] = cfg.username
            server["credential"] = cfg.credential
        servers.append(server)
    return servers
