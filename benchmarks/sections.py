"""The benchmark sections: each runs its workload against our programs and the peers and
returns its figures as plain data (rendering is `benchmarks/report.py`)."""

from __future__ import annotations

import dataclasses
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

from benchmarks import taps
from benchmarks.common import (
    PRIVATE_APP_RATE,
    EmulatorProcess,
    PipelineRun,
    StatsSampler,
    fresh_archive_target,
    log,
    median,
    out_dir,
    run_pipeline,
    window_counts,
)
from benchmarks.target import peers as target_peers
from tests.e2e.harness import DEFAULT_STREAMS
from tests.emulator.server import WINDOW_SECONDS

SECTIONS = (
    "full_sync",
    "incremental",
    "rate_limit",
    "hydration",
    "ranges",
    "target",
    "memory",
    "large",
)


@dataclass
class Sizes:
    """Workload sizes; FULL is the published run, QUICK a smoke run of the same code paths."""

    contacts: int = 3000
    conversations: int = 1500
    companies: int = 500
    latencies: tuple[int, ...] = (50, 150)
    ours_repeat: int = 3
    peer_repeat: dict[int, int] = dataclasses.field(default_factory=lambda: {50: 3, 150: 1})
    changed_share: float = 0.01
    rate_limit_low: int = 167
    rate_contacts: int = 300
    rate_conversations: int = 1400
    rate_latency: int = 50
    hydration_conversations: int = 240
    hydration_latency: int = 100
    hydration_repeat: int = 3
    # A first sync of contacts alone, in one search pass against ranges read at once.
    ranges_contacts: int = 20_000
    ranges_latency: int = 150
    ranges_repeat: int = 2
    # Issue 17's target figures, on inputs large enough that the start-up is a small share
    # (as `benchmarks.target.compare` measures them).
    target_contacts: int = 50_000
    target_conversations: int = 5_000
    target_parts: int = 20
    target_repeat: int = 3
    memory_small: int = 10_000
    memory_large: int = 100_000
    memory_parts: int = 3
    # Issue 17's large workspace, tap | target at 50 ms.
    large_contacts: int = 100_000
    large_conversations: int = 20_000
    large_parts: int = 20
    large_companies: int = 2_000
    large_latency: int = 50
    large_changed_share: float = 0.01


FULL = Sizes()
QUICK = Sizes(
    contacts=200,
    conversations=100,
    companies=50,
    latencies=(50,),
    ours_repeat=1,
    peer_repeat={50: 1},
    changed_share=0.05,
    rate_contacts=50,
    rate_conversations=100,
    hydration_conversations=30,
    hydration_repeat=1,
    ranges_contacts=3_000,
    ranges_repeat=1,
    target_contacts=300,
    target_conversations=30,
    target_repeat=1,
    memory_small=200,
    memory_large=2000,
    large_contacts=1_000,
    large_conversations=200,
    large_parts=5,
    large_companies=50,
    large_changed_share=0.05,
)


def full_sync_and_incremental(
    sizes: Sizes, peers: bool, want_incremental: bool, want_full: bool
) -> dict[str, t.Any]:
    """Full syncs at each latency (ours and the peer interleaved), then the incremental run."""
    folder = taps.work_dir("full")
    result: dict[str, t.Any] = {"latencies": {}, "incremental": None}
    with EmulatorProcess(
        latency_ms=sizes.latencies[0],
        rate_limit=PRIVATE_APP_RATE,
        contacts=sizes.contacts,
        conversations=sizes.conversations,
        companies=sizes.companies,
    ) as emu:
        truth = emu.truth()
        result["truth"] = taps.truth_counts(truth)
        ours_catalog = taps.our_catalog(emu.url, folder, taps.OURS_FOR_PEER)
        peer_catalog = taps.peer_catalog(emu.url, folder) if peers else None
        last: dict[str, taps.TapRun] = {}
        latencies = sizes.latencies if want_full else sizes.latencies[:1]
        for latency in latencies:
            emu.configure(latency_ms=latency)
            ours_n = sizes.ours_repeat if want_full else 1
            peer_n = sizes.peer_repeat.get(latency, 1) if want_full else 1
            runs: dict[str, list[taps.TapRun]] = {"ours": [], "peer": []}
            for i in range(max(ours_n, peer_n if peers else 0)):
                if i < ours_n:
                    log(f"full sync {latency} ms: ours run {i + 1}/{ours_n}")
                    runs["ours"].append(taps.run_ours(emu, ours_catalog, folder, keep_ids=True))
                if peers and peer_catalog is not None and i < peer_n:
                    log(f"full sync {latency} ms: peer run {i + 1}/{peer_n}")
                    runs["peer"].append(taps.run_peer(emu, peer_catalog, folder, keep_ids=True))
            result["latencies"][str(latency)] = {
                program: _summarise_tap_runs(program_runs, truth)
                for program, program_runs in runs.items()
                if program_runs
            }
            if latency == sizes.latencies[0]:
                last = {program: rs[-1] for program, rs in runs.items() if rs}
        if want_incremental and last:
            emu.configure(latency_ms=sizes.latencies[0])
            result["incremental"] = _incremental(emu, sizes, last, ours_catalog, peer_catalog)
    return result


def _summarise_tap_runs(runs: list[taps.TapRun], truth: dict[str, t.Any]) -> dict[str, t.Any]:
    good = [r for r in runs if r.ok]
    chosen = good or runs
    missing = taps.missing_records(chosen[-1].run, truth)
    return {
        "runs": len(runs),
        "failed": len(runs) - len(good),
        "seconds": median(r.seconds for r in chosen),
        "all_seconds": [round(r.seconds, 2) for r in runs],
        "requests": median(r.requests for r in chosen),
        "rate_limited": max(r.rate_limited for r in chosen),
        "records": chosen[-1].run.records,
        "total_records": chosen[-1].run.total_records,
        "missing": missing,
        "max_rss_mb": max(r.run.max_rss_mb for r in chosen),
        "cpu_seconds": median(r.run.cpu_seconds for r in chosen),
    }


def _incremental(
    emu: EmulatorProcess,
    sizes: Sizes,
    last: dict[str, taps.TapRun],
    ours_catalog: Path,
    peer_catalog: Path | None,
) -> dict[str, t.Any]:
    folder = taps.work_dir("incremental")
    contacts = max(1, round(sizes.contacts * sizes.changed_share))
    conversations = max(1, round(sizes.conversations * sizes.changed_share))
    time.sleep(1.1)  # the changes land in a later second than the bookmarks
    changed = len(emu.mutate("update", "contacts", count=contacts))
    changed += len(emu.mutate("update", "conversations", count=conversations))
    emu.warm()
    out: dict[str, t.Any] = {"changed_contacts": contacts, "changed_conversations": conversations}
    for program, previous in last.items():
        state = previous.run.state
        if program == "ours":
            run = taps.run_ours(emu, ours_catalog, folder, state=state)
        elif peer_catalog is not None:
            run = taps.run_peer(emu, peer_catalog, folder, state=state)
        else:
            continue
        log(f"incremental: {program} {run.requests} requests, {run.run.total_records} records")
        out[program] = {
            "ok": run.ok,
            "requests": run.requests,
            "per_changed": run.requests / changed,
            "records": run.run.records,
            "seconds": run.seconds,
            "routes": {k: sum(v.values()) for k, v in run.routes.items()},
        }
    return out


def rate_limit(sizes: Sizes) -> dict[str, t.Any]:
    """Our tap with the emulator at `rate_limit_low` requests per 10 s."""
    folder = taps.work_dir("rate")
    with EmulatorProcess(
        latency_ms=sizes.rate_latency,
        rate_limit=sizes.rate_limit_low,
        contacts=sizes.rate_contacts,
        conversations=sizes.rate_conversations,
        companies=50,
    ) as emu:
        catalog = taps.our_catalog(emu.url, folder, taps.OURS_FOR_PEER)
        log(f"rate limit {sizes.rate_limit_low}/10 s: ours")
        emu.reset_stats()
        sampler = StatsSampler(emu)
        sampler.start()
        try:
            run = taps.run_ours(emu, catalog, folder)
        finally:
            samples = sampler.stop()
    limit = sizes.rate_limit_low
    full, touched, partial = window_counts(samples)
    steady = sum(full) / (len(full) * limit) if full else float("nan")
    return {
        "ok": run.ok,
        "limit_per_10s": limit,
        "requests": run.requests,
        "seconds": run.seconds,
        "full_windows": full,
        "windows_touched": touched,
        "partial_requests": partial,
        "utilisation": steady,
        "utilisation_touched": run.requests / (touched * limit) if touched else float("nan"),
        "per_second_full": sum(full) / (10 * len(full)) if full else float("nan"),
        "rate_limited": run.rate_limited,
        "share_429": run.rate_limited / max(run.requests, 1),
    }


def hydration(sizes: Sizes) -> dict[str, t.Any]:
    """Conversations hydrated per second with 1 and 8 workers (issue 4)."""
    folder = taps.work_dir("hydration")
    rates: dict[int, list[float]] = {1: [], 8: []}
    seconds: dict[int, list[float]] = {1: [], 8: []}
    with EmulatorProcess(
        latency_ms=sizes.hydration_latency,
        rate_limit=PRIVATE_APP_RATE,
        contacts=50,
        conversations=sizes.hydration_conversations,
        companies=10,
    ) as emu:
        catalog = taps.our_catalog(emu.url, folder, ["conversations", "conversation_parts"])
        for i in range(sizes.hydration_repeat):
            for workers in (1, 8):
                log(f"hydration: {workers} workers, run {i + 1}/{sizes.hydration_repeat}")
                run = taps.run_ours(emu, catalog, folder, hydration_workers=workers)
                rates[workers].append(taps.hydration_rate(run.run))
                seconds[workers].append(run.seconds)
    one, eight = median(rates[1]), median(rates[8])
    return {
        "conversations": sizes.hydration_conversations,
        "latency_ms": sizes.hydration_latency,
        "rates": {str(k): v for k, v in rates.items()},
        "seconds": {str(k): v for k, v in seconds.items()},
        "rate_1": one,
        "rate_8": eight,
        "speedup": eight / one if one else float("nan"),
    }


def search_ranges(sizes: Sizes) -> dict[str, t.Any]:
    """A first sync of contacts alone: `search_ranges` 1 (one ascending search, a page at a
    time) against the default 4 (ranges read at once), interleaved, at a search page's
    latency."""
    folder = taps.work_dir("ranges")
    seconds: dict[int, list[float]] = {1: [], 4: []}
    requests: dict[int, list[int]] = {1: [], 4: []}
    ok = True
    with EmulatorProcess(
        latency_ms=sizes.ranges_latency,
        rate_limit=PRIVATE_APP_RATE,
        contacts=sizes.ranges_contacts,
        conversations=10,
        companies=10,
    ) as emu:
        catalog = taps.our_catalog(emu.url, folder, ["contacts"])
        for i in range(sizes.ranges_repeat):
            for parts in (1, 4):
                log(f"ranges: search_ranges={parts}, run {i + 1}/{sizes.ranges_repeat}")
                run = taps.run_ours(emu, catalog, folder, search_ranges=parts)
                seconds[parts].append(run.seconds)
                requests[parts].append(run.requests)
                ok = ok and run.ok
    one, four = median(seconds[1]), median(seconds[4])
    return {
        "contacts": sizes.ranges_contacts,
        "latency_ms": sizes.ranges_latency,
        "seconds": {str(k): v for k, v in seconds.items()},
        "requests": {str(k): v for k, v in requests.items()},
        "seconds_1": one,
        "seconds_4": four,
        "speedup": one / four if four else float("nan"),
        "ok": ok,
    }


def target_throughput(sizes: Sizes, peers: bool) -> dict[str, t.Any]:
    available = target_peers.programs()
    which = [p for p in ("ours", "dlt", "sdk-sqlite") if available[p] and (peers or p == "ours")]
    files = {
        "contacts": (target_peers.contacts_file(sizes.target_contacts), sizes.target_contacts, 0),
        "conversations + parts": (
            target_peers.conversations_file(sizes.target_conversations, sizes.target_parts),
            sizes.target_conversations * (1 + sizes.target_parts),
            sizes.target_conversations,
        ),
    }
    conversations_input = files["conversations + parts"][0]
    files["start-up (schemas only)"] = (target_peers.startup_file(conversations_input), 0, 0)
    log(f"target throughput: {', '.join(which)} x {sizes.target_repeat}")
    runs = target_peers.throughput(files, sizes.target_repeat, which)
    startup = {
        program: median(
            r.run.seconds for r in runs if r.input.startswith("start-up") and r.program == program
        )
        for program in which
    }
    table: dict[str, dict[str, t.Any]] = {}
    for name in files:
        if name.startswith("start-up"):
            continue
        table[name] = {}
        for program in which:
            mine = [r for r in runs if r.input == name and r.program == program]
            good = [r for r in mine if r.ok]
            secs = median(r.run.seconds for r in good) if good else float("nan")
            records, conversations = mine[0].records, mine[0].conversations
            table[name][program] = {
                "ok": len(good) == len(mine),
                "seconds": secs,
                "all_seconds": [round(r.run.seconds, 2) for r in mine],
                "records": records,
                "records_per_s": records / secs,
                "net_records_per_s": records / max(secs - startup[program], 1e-6),
                "startup_seconds": startup[program],
                "cpu_seconds": median(r.run.cpu_seconds for r in good) if good else float("nan"),
                "conversations_per_s": conversations / secs if conversations else None,
                "max_rss_mb": max(r.run.max_rss_mb for r in mine),
                "error": "" if good else mine[0].run.stderr_tail[-600:],
            }
    return {"inputs": table, "programs": which, "parts": sizes.target_parts}


def memory(sizes: Sizes) -> dict[str, t.Any]:
    """Peak RSS of the tap (emulator, no latency) and of the target (Singer file)."""
    out: dict[str, t.Any] = {"parts": sizes.memory_parts, "tap": {}, "target": {}}
    folder = taps.work_dir("memory")
    for count in (sizes.memory_small, sizes.memory_large):
        with EmulatorProcess(
            latency_ms=0,
            rate_limit=100_000_000,
            contacts=100,
            companies=20,
            conversations=count,
            parts_mean=sizes.memory_parts,
        ) as emu:
            catalog = taps.our_catalog(emu.url, folder, ["conversations", "conversation_parts"])
            log(f"memory: tap at {count:,} conversations")
            run = taps.run_ours(emu, catalog, folder)
        out["tap"][str(count)] = {
            "ok": run.ok,
            "max_rss_mb": run.run.max_rss_mb,
            "seconds": run.seconds,
            "records": run.run.total_records,
        }
        singer_file = target_peers.conversations_file(count, sizes.memory_parts)
        log(f"memory: target at {count:,} conversations")
        target_run = target_peers.run_target(
            "ours", singer_file, out_dir() / "work" / "memory-target"
        )
        out["target"][str(count)] = {
            "ok": target_run.returncode == 0,
            "max_rss_mb": target_run.max_rss_mb,
            "seconds": target_run.seconds,
            "records": count * (1 + sizes.memory_parts),
        }
    for program in ("tap", "target"):
        small = out[program][str(sizes.memory_small)]["max_rss_mb"]
        large = out[program][str(sizes.memory_large)]["max_rss_mb"]
        out[program]["growth"] = large / small if small else float("nan")
    out["small"], out["large"] = sizes.memory_small, sizes.memory_large
    return out


def large_workspace(sizes: Sizes) -> dict[str, t.Any]:
    """Issue 17's large workspace, `tap | target` at 50 ms with Intercom's private-app limit:
    a full sync, then an incremental one after changing a share of contacts and conversations;
    each timed against the request-count lower bound (requests / limit), with the rate windows
    of the full run and the peak RSS of both programs."""
    folder = taps.work_dir("large")
    _, target_argv = fresh_archive_target(folder, "large")
    out: dict[str, t.Any] = {
        "contacts": sizes.large_contacts,
        "conversations": sizes.large_conversations,
        "companies": sizes.large_companies,
        "latency_ms": sizes.large_latency,
        "limit_per_10s": PRIVATE_APP_RATE,
    }
    log(
        f"large workspace: generating {sizes.large_contacts:,} contacts, "
        f"{sizes.large_conversations:,} conversations"
    )
    with EmulatorProcess(
        latency_ms=sizes.large_latency,
        rate_limit=PRIVATE_APP_RATE,
        contacts=sizes.large_contacts,
        conversations=sizes.large_conversations,
        companies=sizes.large_companies,
        parts_mean=sizes.large_parts,
    ) as emu:
        truth = emu.truth()
        out["parts"] = sum(len(p) for p in truth["conversation_parts"].values())
        catalog = taps.our_catalog(emu.url, folder, DEFAULT_STREAMS)
        log("large workspace: full sync (tap | target)")
        emu.reset_stats()
        sampler = StatsSampler(emu)
        sampler.start()
        try:
            full = run_pipeline(taps.our_argv(emu.url, catalog, folder, None), target_argv)
        finally:
            samples = sampler.stop()
        out["full"] = _pipeline_figures(full, emu.stats())
        windows, touched, partial = window_counts(samples)
        out["full"]["windows"] = windows
        out["full"]["windows_touched"] = touched
        out["full"]["partial_requests"] = partial
        out["full"]["lowest_window"] = min(windows) / PRIVATE_APP_RATE if windows else float("nan")
        time.sleep(1.1)  # the changes land in a later second than the bookmarks
        contacts = max(1, round(sizes.large_contacts * sizes.large_changed_share))
        conversations = max(1, round(sizes.large_conversations * sizes.large_changed_share))
        emu.mutate("update", "contacts", count=contacts)
        emu.mutate("update", "conversations", count=conversations)
        emu.warm()
        out["changed_contacts"], out["changed_conversations"] = contacts, conversations
        log("large workspace: incremental sync (tap | target)")
        emu.reset_stats()
        # The emulator's windows are fixed (Unix seconds // 10): a run that starts late in one
        # may spend its rest faster than the steady flow, so where it started is reported.
        window_left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
        incremental = run_pipeline(taps.our_argv(emu.url, catalog, folder, full.state), target_argv)
        out["incremental"] = _pipeline_figures(incremental, emu.stats())
        out["incremental"]["window_left_at_start"] = window_left
    return out


def _pipeline_figures(run: PipelineRun, stats: dict[str, t.Any]) -> dict[str, t.Any]:
    requests = int(stats["total"])
    bound = requests / (PRIVATE_APP_RATE / 10)
    return {
        "ok": run.ok,
        "seconds": run.seconds,
        "requests": requests,
        "rate_limited": int(stats["rate_limited"]),
        "share_429": int(stats["rate_limited"]) / max(requests, 1),
        "lower_bound_seconds": bound,
        "vs_bound": run.seconds / bound if bound else float("nan"),
        "tap_rss_mb": run.tap.max_rss_mb,
        "target_rss_mb": run.target.max_rss_mb,
        "tap_cpu_seconds": run.tap.cpu_seconds,
        "target_cpu_seconds": run.target.cpu_seconds,
        "summary": [
            line.split("| ")[-1]
            for line in run.tap.stderr_tail.splitlines()
            if "Run summary" in line
        ],
    }
