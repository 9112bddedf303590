"""Sandboxes: isolated worlds on one server (INTERFACE.md §9).

The paths of the §9 endpoints, where a sandbox is served and where its
metadata is, the members of the create body and of the answers, the limits of
``ttl_seconds`` and the error codes the endpoints answer: what the bank serves
and what the tools that create sandboxes of their own (conform, certify,
replay, Locust) send and read.
"""

from __future__ import annotations

import re

from renkei.contract.oauth import METADATA_PATH

#: ``POST`` creates, ``GET`` lists.
SANDBOXES_PATH = "/sandboxes"
#: Where every sandbox but the root is served: ``/s/ID/`` and all of §1–§6 under it.
SANDBOX_PREFIX = "/s/"
#: A sandbox's id: ``secrets.token_hex(8)``, 16 lower-case hex digits.
ID_PATTERN = "^[0-9a-f]{16}$"
_ID = re.compile(ID_PATTERN)

#: The members of ``POST /sandboxes``'s body.
SCENARIO, LABEL, TTL_SECONDS = "scenario", "label", "ttl_seconds"
#: The member of an inline scenario: ``{"scenario": {"yaml": TEXT}}``.
YAML = "yaml"
#: The scenario name a sandbox made from inline YAML is listed with.
INLINE = "inline"
#: ``ttl_seconds``: 24 hours unless asked, at least a minute, at most a week.
TTL_DEFAULT, TTL_MIN, TTL_MAX = 86_400, 60, 604_800
#: A label of at most this many characters.
LABEL_MAX = 200
#: An inline scenario of at most this many characters (the shipped default is 14 000).
YAML_MAX = 60_000

#: The members of ``POST /sandboxes``'s 201 answer.
CREATED_FIELDS = (
    "id",
    "base_url",
    "issuer",
    "admin_token",
    "telephony_secret",
    "expires_at",
    "scenario",
)
#: The members of a sandbox in ``GET /sandboxes`` and ``GET /sandboxes/{id}``.
LISTED_FIELDS = ("id", "label", "scenario", "created", "expires", "counts", "base_url")
#: The counts of a listed sandbox.
COUNTS = ("flows", "grants", "mails")

#: ``errorCode`` of a sandbox that does not exist (never did, deleted or expired).
NOT_FOUND = "sandbox_not_found"
#: ``errorCode`` of a create refused because the server holds ``--max-sandboxes`` (409).
LIMIT = "sandbox_limit"
#: ``errorCode`` of an open create refused because ``--open-sandboxes`` are taken (429).
FULL = "open_sandboxes_full"


def sandbox_path(sandbox_id: str) -> str:
    """``GET`` and ``DELETE`` of one sandbox."""
    return f"{SANDBOXES_PATH}/{sandbox_id}"


def sandbox_base(sandbox_id: str) -> str:
    """Where the sandbox is served, without the trailing slash: ``/s/ID``."""
    return f"{SANDBOX_PREFIX}{sandbox_id}"


def metadata_path(sandbox_id: str) -> str:
    """The sandbox's RFC 8414 metadata at the origin (RFC 8414 §3.1): the well-known
    path with the issuer's path after it. It is also at ``/s/ID`` + METADATA_PATH."""
    return METADATA_PATH + sandbox_base(sandbox_id)


def is_sandbox_id(text: str) -> bool:
    """Whether ``text`` has the form of a sandbox's id (the root's excepted)."""
    return bool(_ID.fullmatch(text))
