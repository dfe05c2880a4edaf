"""The `intercom-archive` command: parses arguments, runs one command, prints text or JSON.

Exit codes: 0 done (a search without hits too), 1 a problem with the archive or the
arguments' values (one line on stderr), 2 a `--raw` query FTS5 rejected or a usage error.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from intercom_archive import contacts, search, serve, status, threads, views
from intercom_archive.archive import ArchiveError, committed_state, connect
from intercom_archive.encryption import DATABASE_ERRORS, KEY_VARIABLE, KeyProblem, key_from

DEFAULT_DATABASE = "output/intercom.sqlite"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="intercom-archive",
        description="Read an Intercom archive written by target-sqlite-archive.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--database", "-d", default=DEFAULT_DATABASE, help="archive file (%(default)s)"
        )
        sub.add_argument("--json", action="store_true", help="machine-readable output")
        sub.add_argument(
            "--encryption-key-file",
            metavar="FILE",
            help=f"the key of an encrypted archive, in a file (or set {KEY_VARIABLE})",
        )
        return sub

    find = command("search", "full-text search over conversations, tickets, contacts, articles")
    # nargs="*" and parse_known_args: a query may start with "-" (`search -x`) or hold several
    # shell words; a word that is not an option of `search` belongs to the query (a misspelt
    # `--option` is still an error).
    find.add_argument("query", nargs="*", help="words to find (each a literal term unless --raw)")
    find.add_argument("--limit", type=int, default=20, help="hits at most (%(default)s)")
    find.add_argument("--stream", choices=search.STREAMS, help="search one stream only")
    find.add_argument("--raw", action="store_true", help="pass the query as FTS5 syntax")
    find.add_argument(
        "--include-deleted", action="store_true", help="also deleted records and their parts"
    )

    who = command("contact", "every user and lead with this email, external id or phone")
    criterion = who.add_mutually_exclusive_group(required=True)
    criterion.add_argument("--email", help="matched without regard to case")
    criterion.add_argument("--external-id", help="matched exactly")
    criterion.add_argument("--phone", help="matched by its digits alone")

    thread = command("conversation", "a conversation's whole thread, in order, as plain text")
    thread.add_argument("id", help="the conversation's Intercom id")

    command("status", "per stream: rows, live rows, last commit and bookmark")

    browse = command("serve", "browse the archive with Datasette on 127.0.0.1")
    browse.add_argument("--port", type=int, default=8001, help="%(default)s")

    command("views", "create or recreate the analyst views (the only thing this tool writes)")
    return parser


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def _search(connection: sqlite3.Connection, args: argparse.Namespace) -> int:
    try:
        hits = search.search(
            connection,
            args.query,
            limit=args.limit,
            stream=args.stream,
            raw=args.raw,
            include_deleted=args.include_deleted,
        )
    except search.QueryRejected as error:
        print(f"intercom-archive: FTS5 rejected the --raw query: {error}", file=sys.stderr)
        return 2
    if args.json:
        _print_json([hit.as_json() for hit in hits])
    elif not hits:
        print("[]")
    else:
        for hit in hits:
            where = f"{hit.stream} {hit.id}" + (f" part {hit.part_id}" if hit.part_id else "")
            print(f"{where}\n    {hit.snippet}")
    return 0


def _contact(connection: sqlite3.Connection, args: argparse.Namespace) -> int:
    found = contacts.find_contacts(
        connection, email=args.email, external_id=args.external_id, phone=args.phone
    )
    fresh = contacts.freshness(connection)
    if args.json:
        _print_json({"contacts": [c.as_json() for c in found], "freshness": fresh.as_json()})
        return 0
    print(
        f"archive as of {fresh.committed_at or 'never'} "
        f"(contacts complete through {fresh.contacts_updated_through or 'unknown'})"
    )
    if not found:
        print("no contact matches")
    for c in found:
        line = f"{c.role or 'contact'} {c.id}: {c.name or '(no name)'} <{c.email or ''}>"
        line += f" external_id={c.external_id or '-'} phone={c.phone or '-'}"
        line += f" updated {c.updated_at or '?'}"
        if c.deleted:
            line += f" DELETED {c.deleted_at}"
            if c.merged_into_id:
                line += f" (merged into {c.merged_into_id})"
        print(line)
    return 0


def _conversation(connection: sqlite3.Connection, args: argparse.Namespace) -> int:
    thread = threads.conversation_thread(connection, args.id)
    if args.json:
        _print_json(thread.as_json())
    else:
        sys.stdout.write(threads.render_thread(thread))
    return 0


def _status(connection: sqlite3.Connection, args: argparse.Namespace) -> int:
    per_stream = status.archive_status(connection)
    committed_at = committed_state(connection).committed_at
    stale = views.stale_views(connection)
    if args.json:
        _print_json(
            {
                "committed_at": committed_at,
                "streams": {name: entry.as_json() for name, entry in per_stream.items()},
                "stale_views": stale,
            }
        )
        return 0
    sys.stdout.write(status.render_status(per_stream, committed_at))
    if stale:
        print(f"\nviews to recreate (run intercom-archive views): {', '.join(stale)}")
    return 0


def _views(connection: sqlite3.Connection, args: argparse.Namespace) -> int:
    results = views.install_views(connection)
    if args.json:
        _print_json({"views": {r.name: {"status": r.status, "detail": r.detail} for r in results}})
        return 0
    for r in results:
        print(f"{r.status} {r.name}" + (f": {r.detail}" if r.detail else ""))
    return 0


def _serve(connection: sqlite3.Connection, args: argparse.Namespace) -> int:
    if args.json:
        _print_json({"url": f"http://127.0.0.1:{args.port}/"})
    else:
        print(f"Datasette on http://127.0.0.1:{args.port}/ (Ctrl-C stops it)", flush=True)
    sys.stdout.flush()
    return serve.serve(connection, Path(args.database), args.port, args.key)


HANDLERS = {
    "search": _search,
    "contact": _contact,
    "conversation": _conversation,
    "status": _status,
    "serve": _serve,
    "views": _views,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "search" and not any(word.startswith("--") for word in extra):
        args.query = " ".join([*args.query, *extra])
        if not args.query.strip():
            parser.error("search needs a query")
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(args, "limit", 1) < 1:
        print("intercom-archive: --limit must be at least 1", file=sys.stderr)
        return 1
    try:
        # A key on the command line would be readable by every user (ps): a file or the
        # environment only.
        args.key = key_from(args.encryption_key_file)
        connection = connect(args.database, write=args.command == "views", key=args.key)
        try:
            return HANDLERS[args.command](connection, args)
        finally:
            connection.close()
    except ArchiveError as error:
        print(f"intercom-archive: {error}", file=sys.stderr)
        return 1
    except KeyProblem as problem:
        print(f"intercom-archive: {problem}", file=sys.stderr)
        return 1
    except DATABASE_ERRORS as error:
        print(f"intercom-archive: SQLite failed on {args.database}: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `intercom-archive search … | head`: the reader left; nothing is wrong.
        return 0


if __name__ == "__main__":
    sys.exit(main())
