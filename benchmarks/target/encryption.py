"""What encryption at rest costs the target: its two figures, plain and with encryption_key,
side by side in one run.

    .venv/bin/python -m benchmarks.target.encryption [--contacts 20000] [--conversations 1000]
                                                     [--repeat 3]

The same Singer files as benchmarks.target.run; plain and encrypted runs alternate, so a load
change on a shared machine hits both; each figure is the best of `--repeat`. Prints a Markdown
table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

from benchmarks.target.run import _inputs, _run_cli

# A synthetic passphrase: the benchmark measures the cipher, not a secret.
KEY = "benchmark passphrase, not a secret"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.target.encryption")
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--conversations", type=int, default=1_000)
    parser.add_argument("--parts", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    rows = []
    for name, (singer_file, records, conversations) in _inputs(
        args.contacts, args.conversations, args.parts
    ).items():
        best = {"plain": float("inf"), "encrypted": float("inf")}
        cpu = {"plain": 0.0, "encrypted": 0.0}
        for _ in range(args.repeat):
            for mode, config in (("plain", {}), ("encrypted", {"encryption_key": KEY})):
                with tempfile.TemporaryDirectory() as folder:
                    wall, used, _rss = _run_cli(singer_file, Path(folder), config)
                if wall < best[mode]:
                    best[mode], cpu[mode] = wall, used
        plain, encrypted = records / best["plain"], records / best["encrypted"]
        unit = "conversations/s" if conversations else "records/s"
        scale = conversations / records if conversations else 1.0
        rows.append(
            f"| {name} | {records:,} | {plain * scale:,.0f} {unit} ({cpu['plain']:.2f} CPU s) | "
            f"{encrypted * scale:,.0f} {unit} ({cpu['encrypted']:.2f} CPU s) | "
            f"{encrypted / plain:.2f}x |"
        )
    print(f"Commit {commit}, best of {args.repeat}, plain and encrypted runs alternating.\n")
    print("| input | records | plain | encrypted (SQLCipher 4) | encrypted / plain |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
