"""The target's peak memory, its writer process counted, on a recorded tap output (issue 17).

    .venv/bin/python -m benchmarks.target.memory [--contacts 60000] [--conversations 10000]
                                                 [--checkout PATH] [--repeat 1]

The input is the tap's own output against the emulator (every default stream, ~20 parts a
conversation, companies = contacts / 50, 20 ms latency), recorded once into
`benchmarks/out/inputs/`: the real streams' schemas and the concurrent tap's interleaving
(contacts, conversations and parts in the same jobs). At the default sizes the previous
target reached the large workspace's peak (372 MB) in under a minute.

Each configuration is run on the same file, interleaved `--repeat` times: this checkout
with its defaults, this checkout with the settings that reproduce the earlier behaviour
(`batch_size_mb` unbounded, `cache_size_mb` 64), and with `--checkout` another checkout's
target (run from this `.venv` with that checkout's package first on PYTHONPATH, e.g. a
`git worktree` of main). Peak RSS is each process's VmHWM (`benchmarks.common.PeakRss`);
CPU is user + system of the target and of its writer (read from /proc while it runs).
Prints a Markdown table for benchmarks/target/ANALYSIS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
import typing as t
from pathlib import Path

from benchmarks import taps
from benchmarks.common import ROOT, VENV_BIN, EmulatorProcess, PeakRss, log, out_dir
from tests.e2e.harness import DEFAULT_STREAMS

# The settings under which this checkout keeps the earlier batches and page cache.
EARLIER = {"batch_size_mb": 1_000_000, "cache_size_mb": 64}


def tap_output(contacts: int, conversations: int, latency_ms: int) -> Path:
    """The tap's output on an emulator workspace of these sizes (recorded once)."""
    inputs = out_dir() / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    path = inputs / f"tap-{contacts}-{conversations}-{latency_ms}ms.singer"
    if path.exists():
        return path
    folder = taps.work_dir("memory")
    log(f"memory: recording the tap on {contacts:,} contacts, {conversations:,} conversations")
    with EmulatorProcess(
        latency_ms=latency_ms,
        contacts=contacts,
        conversations=conversations,
        companies=max(1, contacts // 50),
        parts_mean=20,
    ) as emu:
        catalog = taps.our_catalog(emu.url, folder, DEFAULT_STREAMS)
        partial = path.with_suffix(".partial")
        with partial.open("wb") as out, (folder / "tap.log").open("wb") as err:
            subprocess.run(
                taps.our_argv(emu.url, catalog, folder, None), stdout=out, stderr=err, check=True
            )
        partial.rename(path)
    return path


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_target(
    singer: Path, folder: Path, settings: dict[str, t.Any], pythonpath: str | None
) -> dict[str, float]:
    """One target run on `singer`: peak RSS of the target and of its writer, CPU of each."""
    database = folder / "memory.sqlite"
    for stale in folder.glob("memory.sqlite*"):
        stale.unlink()
    config = folder / "target-config.json"
    config.write_text(json.dumps({"database": str(database), **settings}))
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    peak = PeakRss()
    writer_cpu: dict[int, float] = {}
    started = time.perf_counter()
    with singer.open("rb") as stdin, (folder / "target.log").open("wb") as err:
        proc = subprocess.Popen(
            [str(VENV_BIN / "target-sqlite-archive"), "--config", str(config)],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            cwd=ROOT,
        )
        while True:
            peak.poll(proc.pid)
            for pid in peak.kb.get(proc.pid, {}):
                cpu = _cpu_seconds(pid) if pid != proc.pid else None
                if cpu is not None:
                    writer_cpu[pid] = cpu
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.01)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"the target failed: see {folder / 'target.log'}")
    peaks = peak.kb[proc.pid]
    writer = sum(writer_cpu.values())
    return {
        "target_mb": peaks.get(proc.pid, 0) / 1024,
        "writer_mb": sum(kb for p, kb in peaks.items() if p != proc.pid) / 1024,
        "both_mb": sum(peaks.values()) / 1024,
        # wait4 counts the writer too: the target waits for it.
        "target_cpu": usage.ru_utime + usage.ru_stime - writer,
        "writer_cpu": writer,
        "wall": time.perf_counter() - started,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=60_000)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--checkout", type=Path, help="another checkout's target, e.g. a worktree of main"
    )
    args = parser.parse_args(argv)
    singer = tap_output(args.contacts, args.conversations, args.latency_ms)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    before = os.getloadavg()[0]
    configs: dict[str, tuple[dict[str, t.Any], str | None]] = {
        "this checkout, defaults": ({}, None),
        "this checkout, earlier settings": (EARLIER, None),
    }
    if args.checkout is not None:
        package = str(args.checkout.resolve() / "target-sqlite-archive")
        configs[f"{args.checkout.name}, defaults"] = ({}, package)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in configs}
    for _ in range(args.repeat):
        for name, (settings, pythonpath) in configs.items():
            folder = taps.work_dir("memory")
            runs[name].append(run_target(singer, folder, settings, pythonpath))
            log(f"memory: {name}: {runs[name][-1]}")
    records = sum(1 for line in singer.open("rb") if line.startswith(b'{"type":"RECORD"'))
    print(f"Input: {singer.name}, {records:,} records, {singer.stat().st_size / 1e6:.0f} MB")
    print(
        f"Commit {commit}; {os.cpu_count()} cores; load average (1 min) {before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after; medians of {args.repeat} interleaved runs.\n"
    )
    print("| target | peak RSS MB: target + writer = both | CPU s: target, writer | wall s |")
    print("|---|---|---|---|")
    for name, figures in runs.items():

        def median(key: str, figures: list[dict[str, float]] = figures) -> float:
            return statistics.median(f[key] for f in figures)

        print(
            f"| {name} | {median('target_mb'):.0f} + {median('writer_mb'):.0f} = "
            f"**{median('both_mb'):.0f}** | {median('target_cpu'):.1f}, "
            f"{median('writer_cpu'):.1f} | {median('wall'):.1f} |"
        )


if __name__ == "__main__":
    main()
