"""The `govpulse` command: its parser, the settings every subcommand runs with, and the dispatch to the subcommands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agents import logs
from agents.cli import data, deploy, manual, national, query, report, rules, run, users
from agents.deployment import DeploymentError, check_deployment
from agents.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    """Settings for this command, checked; only `up` runs the roles of GOVPULSE_ROLES (and is held to their checks).

    Raises ValidationError for a setting that is wrong in itself, DeploymentError for settings that cannot work
    together or with the files they name.
    """
    overrides: dict[str, Any] = {} if args.cmd == "up" else {"roles": "none"}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    if getattr(args, "port", None) is not None:
        overrides["http_port"] = args.port
    if args.cmd == "up" and args.roles:
        overrides["roles"] = args.roles
    settings = Settings(**overrides)
    check_deployment(settings)
    return settings


def _parser() -> argparse.ArgumentParser:
    # No abbreviations: `up --role worker` must be an error, not silently `--roles`.
    p = argparse.ArgumentParser(
        prog="govpulse", description="Real-time supervision of government service halls.", allow_abbrev=False
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    from video_gateway.cli import add_parser as add_video_parser

    run.add_parsers(sub)
    data.add_parsers(sub)
    query.add_parsers(sub)
    rules.add_parser(sub)
    national.add_parser(sub)
    report.add_parser(sub)
    manual.add_parser(sub)
    deploy.add_parsers(sub)
    users.add_parser(sub)
    add_video_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
    except (ValidationError, DeploymentError) as exc:
        print(deploy.refusal(exc), file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_json)
    if args.cmd in ("up", "simulate"):
        return run.run(args, settings)
    if args.cmd in ("registry", "tokens", "schema"):
        return data.run(args, settings)
    if args.cmd == "indicators":
        return query.run(args, settings)
    if args.cmd == "rules":
        return rules.run(args, settings)
    if args.cmd == "national":
        return national.run(args, settings)
    if args.cmd == "report":
        return report.run(args, settings)
    if args.cmd == "manual":
        return manual.run(args, settings)
    if args.cmd == "users":
        return users.run(args, settings)
    if args.cmd in ("init", "config"):
        return deploy.run(args, settings)
    if args.cmd == "video-gateway":
        from video_gateway import cli as video_cli

        return video_cli.run(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
