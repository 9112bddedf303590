"""Campaign: hostile input against a real ``renkei serve``. On demand only.

    .venv/bin/python benchmarks/campaign_hostile.py [--form-examples 1200]
        [--openapi-examples 60] [--max-seconds 1800] [--seed N] [--database-url URL]

Starts ``renkei serve`` on a free loopback port (``harness.embedded``, its own
data directory, SQLite unless ``--database-url``) and sends it, over HTTP:

1. **5 MB bodies** to every endpoint that takes a body (form and JSON with a
   length, and a chunked form);
2. **Hypothesis form fuzzing** (``harness.hostile.form_run.fuzz_forms``):
   ``--form-examples`` requests for each of the screens (with and without a
   valid flow cookie and CSRF token), the OAuth endpoints, the account API, the
   telephony gateway and the sandbox and operator controls — random strings,
   control characters, NUL, full-width digits and kana, SQL and HTML injection,
   wrong JSON types, duplicated parameters and cookies, invalid UTF-8, wrong
   content types;
3. **Schemathesis** over ``/openapi.json``
   (``harness.hostile.schema_run.fuzz_openapi``): ``--openapi-examples``
   positive and as many negative cases per operation, each answer also checked
   against the document (status, content type, schema).

Every answer is judged by ``harness.hostile.verdict.faults_of``: no 5xx but a
deliberate 503 with its error body (the sandbox's faults are kept off: a
generated request that switches one on is undone at once), no traceback, every
error a clear one, no injected markup unescaped, no redirect off the bank. It
prints requests and status codes per endpoint and every failure with an
example, and exits 1 on any failure (a request with no answer at all is one; a
server that stops answering ends the campaign with its last output), or when
fewer than ``--min-requests`` (10,000) generated requests were sent before
``--max-seconds`` ran out. All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.embedded import EmbeddedSandbox  # noqa: E402
from harness.hostile import (  # noqa: E402
    Bench,
    TargetGone,
    fuzz_forms,
    fuzz_openapi,
    huge_bodies,
)
from renkei.args import OneLineParser, count, non_negative, positive_int  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--form-examples",
        type=positive_int,
        default=1200,
        help="Hypothesis requests per group of endpoints (5 groups)",
    )
    parser.add_argument(
        "--openapi-examples",
        type=positive_int,
        default=60,
        help="Schemathesis cases per operation and mode",
    )
    parser.add_argument(
        "--max-seconds", type=non_negative, default=1800, help="stop generating after this long"
    )
    parser.add_argument(
        "--min-requests",
        type=count,
        default=10_000,
        help="fail when fewer generated requests were sent",
    )
    parser.add_argument("--seed", type=int, default=None, help="Hypothesis seed (random)")
    parser.add_argument("--database-url", default=None, help="renkei serve --database-url")
    parser.add_argument("--no-huge", action="store_true", help="skip the 5 MB bodies")
    args = parser.parse_args(argv)

    seed = args.seed if args.seed is not None else secrets.randbits(32)
    # Wrong and right credentials come from one address: the throttle (tested on its
    # own, benchmarks/campaign_throttle.py) would answer most right ones 429 unread.
    extra = (
        "--auth-throttle",
        "off",
        *(("--database-url", args.database_url) * bool(args.database_url)),
    )
    print(f"hostile-input campaign, seed {seed} (again: --seed {seed})", flush=True)
    child = EmbeddedSandbox(extra)
    gone: TargetGone | None = None
    try:
        target = child.ready()
        bench = Bench(target.url, target.admin_token, telephony_secret=target.telephony_secret)
        started = time.monotonic()
        until = started + args.max_seconds
        bench.restore()
        print(f"renkei serve at {target.url}", flush=True)

        def phase(name: str) -> None:
            print(
                f"  {name}: {bench.census.total} requests so far, "
                f"{time.monotonic() - started:.0f} s",
                flush=True,
            )

        try:
            if not args.no_huge:
                huge_bodies(bench)
                phase("5 MB bodies done")
            fuzz_forms(bench, args.form_examples, seed, until)
            phase("Hypothesis form fuzzing done")
            fuzz_openapi(bench, args.openapi_examples, seed, until)
            phase("Schemathesis done")
        except TargetGone as error:
            gone = error
            # The server's own last words say why it stopped (harness.embedded keeps
            # its output in the data directory, removed on stop).
            print(f"\nthe server stopped; its last output:\n{child._output()[-4000:]}")
        bench.close()
    finally:
        child.stop()
    census = bench.census
    print()
    print(census.report())
    if time.monotonic() > until:
        print(f"\nstopped at --max-seconds {args.max_seconds:.0f}")
    if census.total < args.min_requests:
        print(f"\nFAILED: {census.total} generated requests, fewer than {args.min_requests}")
        return 1
    if gone is not None:
        print(f"\nFAILED: {gone}")
        return 1
    if census.findings:
        print(f"\nFAILED: {len(census.findings)} distinct failures")
        return 1
    print(f"\nOK: {census.total} generated requests, no failure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
