"""Every benchmark of issue 7 (and the hydration one of issue 4) in one run.

    .venv/bin/python -m benchmarks.run_all [--quick] [--skip-peers] [--only SECTION ...]

Writes `benchmarks/out/report.md` (and `report.json`) and, unless `--no-update`, puts the same
figures between the markers of `BENCHMARKS.md`. `benchmarks/run` is the one command: it
bootstraps `.venv`, installs the peers into their own virtual environments and calls this.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import sys
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

from benchmarks import taps, targets
from benchmarks.common import (
    PRIVATE_APP_RATE,
    ROOT,
    EmulatorProcess,
    StatsSampler,
    log,
    machine,
    median,
    out_dir,
    window_counts,
    write_json,
)

SECTIONS = ("full_sync", "incremental", "rate_limit", "hydration", "target", "memory")
MARK_START = "<!-- figures:start (written by benchmarks/run_all.py) -->"
MARK_END = "<!-- figures:end -->"

# Goals of issue 7 and issue 4.
GOAL_SPEEDUP = 5.0  # full sync at 50 ms, ours against the peer
GOAL_UTILISATION = 0.90  # requests/s as a share of the limit
GOAL_429_SHARE = 0.01
GOAL_TARGET_VS_DLT = 3.0
GOAL_MEMORY_GROWTH = 1.5  # peak RSS at 100k within 1.5x of 10k
GOAL_HYDRATION_SPEEDUP = 6.0  # 8 workers against 1


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
    target_contacts: int = 10_000
    target_conversations: int = 1_000
    target_parts: int = 20
    target_repeat: int = 3
    memory_small: int = 10_000
    memory_large: int = 100_000
    memory_parts: int = 3


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
    target_contacts=300,
    target_conversations=30,
    target_repeat=1,
    memory_small=200,
    memory_large=2000,
)


def _fmt(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


# --------------------------------------------------------------------------- sections
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


def target_throughput(sizes: Sizes, peers: bool) -> dict[str, t.Any]:
    available = targets.programs()
    which = [p for p in ("ours", "dlt", "sdk-sqlite") if available[p] and (peers or p == "ours")]
    files = {
        "contacts": (targets.contacts_file(sizes.target_contacts), sizes.target_contacts, 0),
        "conversations + parts": (
            targets.conversations_file(sizes.target_conversations, sizes.target_parts),
            sizes.target_conversations * (1 + sizes.target_parts),
            sizes.target_conversations,
        ),
    }
    conversations_input = files["conversations + parts"][0]
    files["start-up (schemas only)"] = (targets.startup_file(conversations_input), 0, 0)
    log(f"target throughput: {', '.join(which)} x {sizes.target_repeat}")
    runs = targets.throughput(files, sizes.target_repeat, which)
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
        singer_file = targets.conversations_file(count, sizes.memory_parts)
        log(f"memory: target at {count:,} conversations")
        target_run = targets.run_target("ours", singer_file, out_dir() / "work" / "memory-target")
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


# --------------------------------------------------------------------------- report
def report(results: dict[str, t.Any], sizes: Sizes, info: dict[str, t.Any]) -> str:
    m = info["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Run {m['date']} by `{info['command']}` in {info['minutes']:.1f} minutes, "
        f"at commit {m['commit']}.",
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory']} RAM, {m['os']}, "
        f"Python {m['python']}, SQLite {m['sqlite']}. Shared and noisy: ratios come from "
        "programs measured side by side (interleaved) in this one run; times are medians.",
        "",
    ]
    if "--quick" in info["command"]:
        lines += [
            "**Quick sizes: a smoke run of the code paths. Start-up dominates at these sizes, "
            "so the figures say nothing about the goals.**",
            "",
        ]
    lines += _summary_table(results, sizes)
    if "full_sync" in results:
        lines += _full_sync_section(results["full_sync"], sizes)
    if results.get("full_sync", {}).get("incremental"):
        lines += _incremental_section(results["full_sync"]["incremental"])
    if "rate_limit" in results:
        lines += _rate_section(results["rate_limit"])
    if "hydration" in results:
        lines += _hydration_section(results["hydration"])
    if "target" in results:
        lines += _target_section(results["target"])
    if "memory" in results:
        lines += _memory_section(results["memory"])
    return "\n".join(lines) + "\n"


def _summary_table(results: dict[str, t.Any], sizes: Sizes) -> list[str]:
    rows = []
    full = results.get("full_sync", {}).get("latencies", {})
    for latency in sizes.latencies:
        entry = full.get(str(latency))
        if not entry:
            continue
        ours, peer = entry.get("ours"), entry.get("peer")
        if ours and peer:
            speedup = peer["seconds"] / ours["seconds"]
            missed = sum(ours["missing"].values())
            goal = "≥ 5× the peer, no record missed" if latency == 50 else "(no goal)"
            ok = (speedup >= GOAL_SPEEDUP and missed == 0) if latency == 50 else None
            rows.append(
                f"| Full sync, {latency} ms latency | {_fmt(ours['seconds'])} s vs "
                f"{_fmt(peer['seconds'])} s: **{speedup:.1f}×**; ours missed {missed} records "
                f"| {goal} | {_met(ok)} |"
            )
        elif ours:
            rows.append(
                f"| Full sync, {latency} ms latency | ours {_fmt(ours['seconds'])} s "
                "(peer not run) | ≥ 5× the peer | n/a |"
            )
    inc = results.get("full_sync", {}).get("incremental")
    if inc and "ours" in inc:
        peer_part = f" vs peer {inc['peer']['per_changed']:.2f}" if "peer" in inc else ""
        rows.append(
            f"| Incremental, requests per changed record | ours "
            f"{inc['ours']['per_changed']:.2f}{peer_part} | (no goal) | n/a |"
        )
    rate = results.get("rate_limit")
    if rate and math.isnan(rate["utilisation"]):
        rows.append(
            f"| Rate-limit utilisation at {rate['limit_per_10s']}/10 s | n/a: the run covered "
            "no whole 10-second window | ≥ 90 %, ≤ 1 % 429 | n/a |"
        )
    elif rate:
        ok = rate["utilisation"] >= GOAL_UTILISATION and rate["share_429"] <= GOAL_429_SHARE
        rows.append(
            f"| Rate-limit utilisation at {rate['limit_per_10s']}/10 s | "
            f"{rate['utilisation']:.0%} of the limit in full windows, "
            f"{rate['rate_limited']} × 429 "
            f"({rate['share_429']:.1%}) | ≥ 90 %, ≤ 1 % 429 | {_met(ok)} |"
        )
    hyd = results.get("hydration")
    if hyd:
        ok = hyd["speedup"] >= GOAL_HYDRATION_SPEEDUP
        rows.append(
            f"| Hydration, 8 vs 1 workers ({hyd['latency_ms']} ms) | {_fmt(hyd['rate_8'])} vs "
            f"{_fmt(hyd['rate_1'])} conversations/s: **{hyd['speedup']:.1f}×** | ≥ 6× "
            f"| {_met(ok)} |"
        )
    tgt = results.get("target")
    if tgt:
        for name, programs in tgt["inputs"].items():
            ours, dlt = programs.get("ours"), programs.get("dlt")
            if ours and dlt and dlt["ok"]:
                ratio = ours["records_per_s"] / dlt["records_per_s"]
                rows.append(
                    f"| Target, {name} | {_fmt(ours['records_per_s'], 0)} vs dlt "
                    f"{_fmt(dlt['records_per_s'], 0)} records/s: **{ratio:.1f}×** "
                    f"| ≥ 3× dlt | {_met(ratio >= GOAL_TARGET_VS_DLT)} |"
                )
    mem = results.get("memory")
    if mem:
        for program in ("tap", "target"):
            growth = mem[program]["growth"]
            small = mem[program][str(mem["small"])]["max_rss_mb"]
            large = mem[program][str(mem["large"])]["max_rss_mb"]
            rows.append(
                f"| Memory, {program} peak RSS {mem['small']:,} → {mem['large']:,} conversations "
                f"| {small:.0f} → {large:.0f} MB: **{growth:.2f}×** | ≤ 1.5× "
                f"| {_met(growth <= GOAL_MEMORY_GROWTH)} |"
            )
    if not rows:
        return []
    return [
        "## Goals",
        "",
        "| figure | measured | goal | |",
        "|---|---|---|---|",
        *rows,
        "",
    ]


def _full_sync_section(full: dict[str, t.Any], sizes: Sizes) -> list[str]:
    truth = full.get("truth", {})
    lines = [
        "## 1. Full sync (budget 1,667 requests per 10 s)",
        "",
        f"Workspace: {sizes.contacts:,} contacts, {sizes.conversations:,} conversations with "
        f"about 20 parts each ({truth.get('conversation_parts', 0):,} parts), "
        f"{sizes.companies:,} companies. Ours: `hydration_workers` 8, streams "
        f"{', '.join(taps.OURS_FOR_PEER)} (the entities the peer syncs). Peer: singer-io "
        "tap-intercom 2.2.5, every stream selected, through `benchmarks/peer_runner.py`. "
        "Wall time of the whole process (start-up included), median of the runs; "
        "requests as the emulator counted them.",
        "",
        "| latency | program | runs | wall s (median) | all runs s | requests | requests/s "
        "| 429s | records | missed vs truth | CPU s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for latency, entry in full["latencies"].items():
        for program, s in entry.items():
            missed = sum(s["missing"].values())
            lines.append(
                f"| {latency} ms | {program} | {s['runs']} | {_fmt(s['seconds'])} "
                f"| {s['all_seconds']} | {s['requests']:,.0f} "
                f"| {s['requests'] / s['seconds']:.1f} | {s['rate_limited']} "
                f"| {s['total_records']:,} | {missed} | {_fmt(s['cpu_seconds'])} "
                f"| {s['max_rss_mb']:.0f} |"
            )
    first: dict[str, t.Any] = next(iter(full["latencies"].values()), {})
    ours_records = first.get("ours", {}).get("records", {})
    peer_records = first.get("peer", {}).get("records", {})
    streams = sorted(set(ours_records) | set(peer_records))
    if streams:
        lines += [
            "",
            "Records per stream (one full sync):",
            "",
            "| stream | ours | peer | emulator truth |",
            "|---|---|---|---|",
        ]
        for stream in streams:
            ours = first.get("ours", {}).get("records", {}).get(stream, "")
            peer = first.get("peer", {}).get("records", {}).get(stream, "")
            expected = truth.get(taps.TRUTH_OF_STREAM.get(stream, ""), "")
            lines.append(f"| {stream} | {ours} | {peer} | {expected} |")
    lines.append("")
    return lines


def _incremental_section(inc: dict[str, t.Any]) -> list[str]:
    changed = inc["changed_contacts"] + inc["changed_conversations"]
    lines = [
        "## 2. Incremental cost",
        "",
        f"After the full sync at 50 ms, {inc['changed_contacts']} contacts and "
        f"{inc['changed_conversations']} conversations ({changed} records) were changed; each "
        "tap then ran from its own final state.",
        "",
        "| program | requests | requests per changed record | records emitted "
        "| requests by route |",
        "|---|---|---|---|---|",
    ]
    for program in ("ours", "peer"):
        if program in inc:
            s = inc[program]
            routes = ", ".join(f"{k}: {v}" for k, v in sorted(s["routes"].items()))
            lines.append(
                f"| {program} | {s['requests']} | {s['per_changed']:.2f} "
                f"| {sum(s['records'].values())} | {routes} |"
            )
    lines.append("")
    return lines


def _rate_section(rate: dict[str, t.Any]) -> list[str]:
    full = rate["full_windows"]
    limit = rate["limit_per_10s"]
    return [
        "## 3. Rate-limit utilisation",
        "",
        f"Emulator at {limit} requests per 10 s (fixed windows on unix multiples of 10 s, as "
        "Intercom's), 50 ms latency; our tap, full sync of the peer's entities. The harness "
        "polls the emulator's request count every 0.1 s. Utilisation = requests per second "
        "in the windows the run covered from start to end, as a share of the allowed "
        f"{limit / 10:.1f}/s; the partial first and last windows (start-up, the tail of the "
        "sync) are shown separately, as the share over every window touched.",
        "",
        "| requests | wall s | requests per full window | requests/s in full windows "
        "| utilisation (full windows) | over all windows touched | 429s | share 429 |",
        "|---|---|---|---|---|---|---|---|",
        f"| {rate['requests']} | {rate['seconds']:.1f} | {full} "
        f"| {_fmt(rate['per_second_full'], 2)} | {rate['utilisation']:.1%} "
        f"| {rate['utilisation_touched']:.1%} ({rate['windows_touched']} windows) "
        f"| {rate['rate_limited']} | {rate['share_429']:.2%} |",
        "",
    ]


def _hydration_section(hyd: dict[str, t.Any]) -> list[str]:
    return [
        "## Hydration throughput (issue 4)",
        "",
        f"{hyd['conversations']} conversations, {hyd['latency_ms']} ms latency, budget 1,667 "
        "per 10 s; conversations and conversation_parts selected. Rate = conversations "
        "emitted per second between the first and the last (start-up and discovery left out).",
        "",
        "| workers | conversations/s (median) | runs | wall s |",
        "|---|---|---|---|",
        f"| 1 | {_fmt(hyd['rate_1'])} | {[round(r, 1) for r in hyd['rates']['1']]} "
        f"| {[round(s, 1) for s in hyd['seconds']['1']]} |",
        f"| 8 | {_fmt(hyd['rate_8'])} | {[round(r, 1) for r in hyd['rates']['8']]} "
        f"| {[round(s, 1) for s in hyd['seconds']['8']]} |",
        "",
        f"Speed-up: **{hyd['speedup']:.1f}×** (goal ≥ 6×).",
        "",
    ]


def _target_section(tgt: dict[str, t.Any]) -> list[str]:
    lines = [
        "## 4. Target throughput",
        "",
        "Same Singer file for every program (from `benchmarks/target/generate.py`). Ours: "
        "`target-sqlite-archive`; dlt: `dlt_load.py` (dlt's SQLAlchemy destination on SQLite, "
        "merge on the key properties, nested lists into child tables); sdk-sqlite: the "
        "singer-sdk 0.54.9 sample `meltano-target-sqlite` (installed from the sdk's sdist, "
        "it is not on PyPI). Whole process wall time incl. start-up, median; 'start-up' is the "
        "median run on the file's SCHEMA messages alone, 'net' leaves it out; CPU is the "
        "child's user + system time.",
        "",
        "| input | program | records | wall s (median) | all runs s | records/s "
        "| conversations/s | start-up s | net records/s | CPU s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, programs in tgt["inputs"].items():
        for program, s in programs.items():
            conv = _fmt(s["conversations_per_s"], 0) if s["conversations_per_s"] else "-"
            note = "" if s["ok"] else " (failed)"
            lines.append(
                f"| {name} | {program}{note} | {s['records']:,} | {_fmt(s['seconds'], 2)} "
                f"| {s['all_seconds']} | {_fmt(s['records_per_s'], 0)} | {conv} "
                f"| {_fmt(s['startup_seconds'], 2)} | {_fmt(s['net_records_per_s'], 0)} "
                f"| {_fmt(s['cpu_seconds'], 2)} | {s['max_rss_mb']:.0f} |"
            )
    lines.append("")
    return lines


def _memory_section(mem: dict[str, t.Any]) -> list[str]:
    lines = [
        "## 5. Memory",
        "",
        f"Peak RSS (the child's own `ru_maxrss`, from `wait4`). Conversations with "
        f"{mem['parts']} parts each on average (fewer than 20 to keep the 100,000 run inside the "
        "time budget). Tap: against the emulator without latency, conversations and parts "
        "selected. Target: ours, from a Singer file of the same counts.",
        "",
        "| program | conversations | records | wall s | peak RSS MB |",
        "|---|---|---|---|---|",
    ]
    for program in ("tap", "target"):
        for count in (mem["small"], mem["large"]):
            s = mem[program][str(count)]
            lines.append(
                f"| {program} | {count:,} | {s['records']:,} | {s['seconds']:.1f} "
                f"| {s['max_rss_mb']:.0f} |"
            )
    lines.append("")
    return lines


def update_benchmarks_md(text: str, path: Path) -> None:
    """Replace the figures between the markers; the hand-written parts stay."""
    body = text.split("\n", 2)[2] if text.startswith("# ") else text
    # One level deeper: the figures sit under the page's own "## Latest figures".
    body = "\n".join("#" + line if line.startswith("## ") else line for line in body.splitlines())
    block = f"{MARK_START}\n{body.strip()}\n{MARK_END}"
    current = path.read_text() if path.exists() else f"# Benchmarks\n\n{MARK_START}\n{MARK_END}\n"
    if MARK_START in current and MARK_END in current:
        head, rest = current.split(MARK_START, 1)
        tail = rest.split(MARK_END, 1)[1]
        path.write_text(head + block + tail)
    else:
        path.write_text(current.rstrip() + "\n\n" + block + "\n")


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
        results["full_sync"] = full_sync_and_incremental(
            sizes, peers, "incremental" in wanted, "full_sync" in wanted
        )
    if "rate_limit" in wanted:
        results["rate_limit"] = rate_limit(sizes)
    if "hydration" in wanted:
        results["hydration"] = hydration(sizes)
    if "target" in wanted:
        results["target"] = target_throughput(sizes, not args.skip_peers)
    if "memory" in wanted:
        results["memory"] = memory(sizes)
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
