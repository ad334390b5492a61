"""`govpulse indicators`: the indicator catalogue, or one indicator's points from a running govpulse."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request

from agents.cli import Subcommands
from agents.settings import Settings


def add_parsers(sub: Subcommands) -> None:
    ind = sub.add_parser("indicators", help="list indicators, or query one, from a running govpulse")
    ind.add_argument("name", nargs="?", help="indicator name; omit to list them")
    ind.add_argument("--url", default="http://127.0.0.1:8080")
    ind.add_argument(
        "--user",
        default=os.environ.get("GOVPULSE_USER"),
        help="monitoring-center user; password from GOVPULSE_PASSWORD or a prompt",
    )
    ind.add_argument(
        "--scope",
        default="province",
        help="province | city:440100 | county:440106 | hall:<id> | dept:<id> | source:<id>",
    )
    ind.add_argument("--window", default="1h", choices=["5m", "1h", "1d"])
    ind.add_argument("--from", dest="start", help="ISO 8601 with zone; default: a day (7 days for 1d) before --to")
    ind.add_argument("--to", dest="end", help="ISO 8601 with zone; default: now")
    ind.add_argument("--json", action="store_true", help="print the API's JSON answer")
    ind.add_argument("--markdown", action="store_true", help="print the catalogue as Markdown (no server needed)")
    ind.add_argument(
        "--sql",
        action="store_true",
        help="print NAME's SQL for a Grafana panel (no server needed): the range is the dashboard's; --scope city "
        "alone reads the dashboard variable ${city}, city:440100 a fixed city",
    )
    ind.add_argument("--group", help="with --sql: one series per city, county, hall, dept... of the scope")


def signed_in_opener(url: str, user: str | None) -> urllib.request.OpenerDirector:
    """A urllib opener holding a monitoring-center session; the password comes from GOVPULSE_PASSWORD or a prompt."""
    import getpass
    import http.cookiejar

    if not user:
        raise SystemExit("error: the API needs a sign-in: pass --user (or set GOVPULSE_USER)")
    password = os.environ.get("GOVPULSE_PASSWORD") or getpass.getpass(f"password for {user}: ")
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login = urllib.request.Request(  # noqa: S310 - the operator's own --url, the govpulse they run
        f"{url}/api/v1/session",
        data=json.dumps({"username": user, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    opener.open(login, timeout=30)
    return opener


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the indicator list (no server needed), or one indicator's points from a running govpulse."""
    import urllib.error
    import urllib.parse

    from streams.indicators.catalog import INDICATORS
    from streams.indicators.defined_loader import read_defined
    from streams.indicators.installed import BUILT_INS, install

    if args.markdown:
        from streams.indicators.doc import markdown

        print(markdown(), end="")  # the catalogue in code; defined indicators are documented in their files
        return 0
    defined, errors = read_defined(settings.indicators_path, BUILT_INS)
    for line in errors:
        print(line, file=sys.stderr)
    install(defined)
    if args.sql:
        return _print_sql(args)
    if not args.name:
        for ind in INDICATORS.values():
            print(f"{ind.name:<28} {ind.family:<13} {ind.unit:<12} {ind.title_zh}")
        return 0
    base = args.url.rstrip("/")
    query = {"scope": args.scope, "window": args.window}
    query.update({k: v for k, v in (("from", args.start), ("to", args.end)) if v})
    url = f"{base}/api/v1/indicators/{urllib.parse.quote(args.name)}?{urllib.parse.urlencode(query)}"
    try:
        opener = signed_in_opener(base, args.user)
        with opener.open(url, timeout=30) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        print(exc.read().decode(), file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(body, ensure_ascii=False, indent=1))
        return 0
    for point in body["points"]:
        group = f" {point['reason']}" if "reason" in point else ""
        print(f"{point['bucket']}{group} {point['value']}")
    return 0


def _print_sql(args: argparse.Namespace) -> int:
    from streams.indicators.panel_sql import panel_query, panel_sql
    from streams.indicators.query import QueryError
    from streams.indicators.service import lookup

    if not args.name:
        print("error: --sql needs an indicator NAME", file=sys.stderr)
        return 2
    try:
        q, scope_value = panel_query(args.scope, args.window, args.group)
        print(panel_sql(lookup(args.name, q), q, scope_value))
    except QueryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
