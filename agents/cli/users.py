"""`govpulse users ...`: who may sign in to the monitoring center.

There is no default account: the first admin is made here. Passwords are
typed at a prompt (twice) or piped with --password-stdin, never given as an
argument, where they would land in the shell history and the process list.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from dataclasses import replace

from agents.cli import Subcommands
from agents.settings import Settings
from streams.auth.passwords import WeakPassword, check_strength, hash_password
from streams.auth.users import ROLES, UserError, UserStore, new_user
from streams.registry.gb2260 import cities


def add_parser(sub: Subcommands) -> None:
    users = sub.add_parser("users", help="monitoring-center users (stored with password hashes)")
    users_sub = users.add_subparsers(dest="users_cmd", required=True)
    add = users_sub.add_parser("add", help="create a user; the first admin: `govpulse users add NAME --role admin`")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--city", help="city code (GB/T 2260) for a city operator, or a viewer of one city")
    add.add_argument("--display-name", default="")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    passwd = users_sub.add_parser("passwd", help="set a user's password")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    remove = users_sub.add_parser("remove", help="delete a user; their sessions end at once")
    remove.add_argument("username")
    listing = users_sub.add_parser("list", help="list users (no hashes)")
    for p in (add, passwd, remove, listing):
        p.add_argument("--data-dir")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise UserError("the two passwords differ")
    return first


def run(args: argparse.Namespace, settings: Settings) -> int:
    store = UserStore(settings.users_path)
    try:
        if args.users_cmd == "list":
            for u in store.all():
                print(f"{u.username:<24} {u.role:<18} {u.city or '-':<8} {u.display_name}")
            return 0
        if args.users_cmd == "remove":
            if not store.remove(args.username):
                raise UserError(f"no user {args.username!r}")
            print(f"removed {args.username}")
            return 0
        if args.users_cmd == "add":
            if store.get(args.username) is not None:
                raise UserError(f"user {args.username!r} exists; use `govpulse users passwd` to change the password")
            known = {str(c.code) for c in cities()}
            user = new_user(
                args.username,
                args.role,
                _password(args.password_stdin),
                city=args.city,
                display_name=args.display_name,
                known_cities=known,
            )
            store.put(user)
            city = f", city {user.city}" if user.city else ""
            print(f"added {user.username} ({user.role}{city}) to {settings.users_path}")
            return 0
        if args.users_cmd == "passwd":
            found = store.get(args.username)
            if found is None:
                raise UserError(f"no user {args.username!r}")
            password = _password(args.password_stdin)
            check_strength(password)
            store.put(replace(found, password_hash=hash_password(password)))
            print(f"password of {found.username} changed")
            return 0
    except (UserError, WeakPassword) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 2
