"""Every benchmark of issue 7 (and the hydration one of issue 4) in one run.

    .venv/bin/python -m benchmarks.run_all [--quick] [--skip-peers] [--only SECTION ...]

Writes `benchmarks/out/report.md` (and `report.json`) and, unless `--no-update`, puts the same
figures between the markers of `BENCHMARKS.md`. `benchmarks/run` is the one command: it
bootstraps `.venv`, installs the peers into their own virtual environments and calls this.
The sections run in `benchmarks/sections.py`; `benchmarks/report.py` renders their figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import time
import typing as t
from pathlib import Path

from benchmarks import sections, taps
from benchmarks.common import ROOT, log, machine, out_dir, write_json
from benchmarks.report import report, update_benchmarks_md
from benchmarks.sections import FULL, QUICK, SECTIONS, Sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each")
    parser.add_argument("--skip-peers", action="store_true", help="only our programs")
    parser.add_argument("--only", nargs="*", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--no-update", action="store_true", help="leave BENCHMARKS.md alone")
    parser.add_argument(
        "--from-json", type=Path, help="re-render a saved report.json (no benchmark is run)"
    )
    args = parser.parse_args(argv)
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        info = saved["info"]
        fields = dict(info["sizes"])
        fields["latencies"] = tuple(fields["latencies"])
        fields["peer_repeat"] = {int(k): v for k, v in fields["peer_repeat"].items()}
        text = report(saved["results"], Sizes(**fields), info)
        if not args.no_update:
            update_benchmarks_md(text, ROOT / "BENCHMARKS.md")
        print(text)
        return 0
    sizes = QUICK if args.quick else FULL
    if args.out is not None:
        os.environ["BENCHMARKS_OUT"] = str(args.out.resolve())
    args.out = out_dir()
    shutil.rmtree(args.out / "logs", ignore_errors=True)  # stderr of this run's children only
    peers = not args.skip_peers and taps.peer_available()
    if not args.skip_peers and not peers:
        log("peer tap venv missing (benchmarks/.venv-peer-tap): peers skipped")
    started = time.perf_counter()
    results: dict[str, t.Any] = {}
    wanted = set(args.only)
    if wanted & {"full_sync", "incremental"}:
        results["full_sync"] = sections.full_sync_and_incremental(
            sizes, peers, "incremental" in wanted, "full_sync" in wanted
        )
    if "rate_limit" in wanted:
        results["rate_limit"] = sections.rate_limit(sizes)
    if "hydration" in wanted:
        results["hydration"] = sections.hydration(sizes)
    if "ranges" in wanted:
        results["ranges"] = sections.search_ranges(sizes)
    if "target" in wanted:
        results["target"] = sections.target_throughput(sizes, not args.skip_peers)
    if "memory" in wanted:
        results["memory"] = sections.memory(sizes)
    if "large" in wanted:
        results["large"] = sections.large_workspace(sizes)
    command = "benchmarks/run" + (" --quick" if args.quick else "")
    if args.skip_peers:
        command += " --skip-peers"
    info = {
        "machine": machine(),
        "minutes": (time.perf_counter() - started) / 60,
        "command": command,
        "sizes": dataclasses.asdict(sizes),
    }
    text = report(results, sizes, info)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.md").write_text(text)
    write_json(args.out / "report.json", {"info": info, "results": results})
    if not args.no_update:
        update_benchmarks_md(text, ROOT / "BENCHMARKS.md")
    print(text)
    log(f"done in {info['minutes']:.1f} minutes: {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
