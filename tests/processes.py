"""The child processes of a running program, as Linux lists them: the helper the tests that
kill or stop a program share (the target's writer, the Datasette server's workers)."""

from __future__ import annotations

from pathlib import Path


def child_pids(pid: int) -> list[int]:
    """The child processes of `pid`, from every one of its threads' lists (each thread lists
    those it started; a thread that ends meanwhile, such as a timer's, has none); none once
    `pid` has ended."""
    children: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return children
    for task in tasks:
        try:
            children += [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return children
