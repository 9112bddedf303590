"""The right requests the hostile ones are made from, and the state they start in.

A generated request is mostly right with a few things wrong (:func:`.strategies.mutated`),
so that the deep checks see it, not only the first one. Right means the manual's
customer (INTERFACE.md §8) on the screens (§2) with the fields the contract says
each screen posts, the partner app of §8 with its registered redirect URI, and
a clock frozen inside service hours.
"""

from __future__ import annotations

import base64
import posixpath
from typing import Final

from harness.driver import PartnerApp
from harness.personas import load_personas
from renkei.contract.screens import CANCEL_PATH, FIELDS, SCREEN_PATHS, SCREENS, Screen

#: The partner app of INTERFACE.md §8 and its one registered redirect URI (the
#: driver's partner app is that app).
CLIENT_ID: Final = PartnerApp.client_id
CLIENT_SECRET: Final = PartnerApp.client_secret
REDIRECT: Final = PartnerApp.redirect_uri
#: Its right credentials in a Basic header (client_secret_basic, RFC 6749 §2.3.1).
CLIENT_BASIC: Final = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
#: The manual's own customer (§8): the flows the fuzzing needs are walked with it.
MANUAL: Final = load_personas()["manual"]
ACCOUNT: Final = MANUAL.account
ACCOUNT_KEY: Final = MANUAL.account_id
PIN: Final = MANUAL.pin
PERSON: Final = MANUAL.details(email="taro@example.jp", email_confirm="taro@example.jp")
#: A Tuesday morning inside service hours, frozen: whatever the real time, the
#: flows are open and the call window of ④ never runs out under the fuzzing.
BASELINE_NOW: Final = "2026-11-24T10:15:00+09:00"

#: Every field a screen posts, with the manual's customer's right value; ⑥'s
#: button and box as 「許可する」 with the agreement ticked.
_RIGHT: Final[dict[str, str]] = {
    **ACCOUNT,
    **PERSON,
    "pin": PIN,
    "agree": FIELDS["agree"].choices[0],
    "decision": FIELDS["decision"].choices[0],
}
#: What each screen's POST takes, with right values (INTERFACE.md §2), in the
#: order a flow meets the screens; 「中止する」 takes nothing but the CSRF token.
SCREEN_FIELDS: Final[dict[str, dict[str, str]]] = {
    **{s.path: {name: _RIGHT[name] for name in s.field_names} for s in SCREENS.values()},
    CANCEL_PATH: {},
}
#: Where a flow stands for each POST (中止 from ②).
FLOW_FOR: Final[dict[str, str]] = {
    **{path: path for path in SCREEN_FIELDS},
    CANCEL_PATH: SCREENS[Screen.CUSTOMER].path,
}
#: The folder the screens live under (``/connect/``): a hostile path segment goes there.
SCREENS_UNDER: Final = posixpath.commonpath(SCREEN_PATHS.values()) + "/"
