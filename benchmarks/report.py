"""The benchmark report: figures (from `benchmarks/sections.py`) rendered as Markdown, and
put between the markers of BENCHMARKS.md."""

from __future__ import annotations

import math
import typing as t
from pathlib import Path

from benchmarks import goals, taps
from benchmarks.sections import Sizes

MARK_START = "<!-- figures:start (written by benchmarks/run_all.py) -->"
MARK_END = "<!-- figures:end -->"
SPEEDUP_GOAL = goals.FULL_SYNC_SPEEDUP.text
RATE_GOAL = f"{goals.RATE_UTILISATION.text}, {goals.RATE_429_SHARE.text} 429"


def _fmt(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


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
    if "ranges" in results:
        lines += _ranges_section(results["ranges"])
    if "target" in results:
        lines += _target_section(results["target"])
    if "memory" in results:
        lines += _memory_section(results["memory"])
    if "large" in results:
        lines += _large_section(results["large"])
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
            fewer = ours["requests"] <= peer["requests"]
            aim = latency == goals.FULL_SYNC_AIM_LATENCY_MS
            goal = f"{SPEEDUP_GOAL} the peer" + (
                f" (aim {goals.FULL_SYNC_SPEEDUP_AIM.text})" if aim else ""
            )
            ok = goals.FULL_SYNC_SPEEDUP.met(speedup) and missed == 0 and fewer
            rows.append(
                f"| Full sync, {latency} ms latency | {_fmt(ours['seconds'])} s vs "
                f"{_fmt(peer['seconds'])} s: **{speedup:.1f}×**; ours missed {missed} records, "
                f"{ours['requests']:,.0f} requests vs {peer['requests']:,.0f} "
                f"| {goal}, no record missed, requests ≤ the peer's | {_met(ok)} |"
            )
        elif ours:
            rows.append(
                f"| Full sync, {latency} ms latency | ours {_fmt(ours['seconds'])} s "
                f"(peer not run) | {SPEEDUP_GOAL} the peer | n/a |"
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
            f"no whole 10-second window | {RATE_GOAL} | n/a |"
        )
    elif rate:
        ok = goals.RATE_UTILISATION.met(rate["utilisation"]) and goals.RATE_429_SHARE.met(
            rate["share_429"]
        )
        rows.append(
            f"| Rate-limit utilisation at {rate['limit_per_10s']}/10 s | "
            f"{rate['utilisation']:.0%} of the limit in full windows, "
            f"{rate['rate_limited']} × 429 "
            f"({rate['share_429']:.1%}) | {RATE_GOAL} | {_met(ok)} |"
        )
    hyd = results.get("hydration")
    if hyd:
        ok = goals.HYDRATION_SPEEDUP.met(hyd["speedup"])
        rows.append(
            f"| Hydration, 8 vs 1 workers ({hyd['latency_ms']} ms) | {_fmt(hyd['rate_8'])} vs "
            f"{_fmt(hyd['rate_1'])} conversations/s: **{hyd['speedup']:.1f}×** "
            f"| {goals.HYDRATION_SPEEDUP.text} "
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
                    f"| {goals.TARGET_VS_DLT.text} dlt | {_met(goals.TARGET_VS_DLT.met(ratio))} |"
                )
            if ours and ours["ok"]:
                rows.append(_target_rate_row(name, ours))
    mem = results.get("memory")
    if mem:
        for program in ("tap", "target"):
            growth = mem[program]["growth"]
            small = mem[program][str(mem["small"])]["max_rss_mb"]
            large = mem[program][str(mem["large"])]["max_rss_mb"]
            rows.append(
                f"| Memory, {program} peak RSS {mem['small']:,} → {mem['large']:,} conversations "
                f"| {small:.0f} → {large:.0f} MB: **{growth:.2f}×** | {goals.MEMORY_GROWTH.text} "
                f"| {_met(goals.MEMORY_GROWTH.met(growth))} |"
            )
    rows += _large_goal_rows(results.get("large"))
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
        f"{sizes.companies:,} companies. Ours: `hydration_workers` auto (the default), streams "
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
        f"Speed-up: **{hyd['speedup']:.1f}×** (goal {goals.HYDRATION_SPEEDUP.text}).",
        "",
    ]


def _ranges_section(ranges: dict[str, t.Any]) -> list[str]:
    rows = [
        f"| {parts} | {_fmt(ranges[f'seconds_{parts}'])} "
        f"| {[round(s, 1) for s in ranges['seconds'][str(parts)]]} "
        f"| {ranges['requests'][str(parts)]} |"
        for parts in (1, 4)
    ]
    return [
        "## Search ranges (issue 17)",
        "",
        f"A first sync of {ranges['contacts']:,} contacts alone at {ranges['latency_ms']} ms "
        "latency, Intercom's private-app limit: one ascending search read a page at a time "
        "(`search_ranges` 1) against ranges read at once (4, the default), interleaved. Whole "
        "tap process, median.",
        "",
        "| search_ranges | wall s | runs s | requests |",
        "|---|---|---|---|",
        *rows,
        "",
        f"Speed-up: **{ranges['speedup']:.1f}×**.",
        "",
    ]


def _target_rate_row(name: str, ours: dict[str, t.Any]) -> str:
    """Issue 17's own figure for an input: conversations/s (each with its parts) or contacts/s,
    whole process."""
    conversations = ours["conversations_per_s"]
    goal = goals.TARGET_CONVERSATIONS_PER_S if conversations else goals.TARGET_CONTACTS_PER_S
    rate = conversations or ours["records_per_s"]
    return (
        f"| Target, {name}, ours alone | **{_fmt(rate, 0)}{goal.unit}** "
        f"({_fmt(ours['net_records_per_s'], 0)} records/s net of "
        f"{_fmt(ours['startup_seconds'], 2)} s start-up) | {goal.text} | {_met(goal.met(rate))} |"
    )


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
        "Peak RSS (the program's own VmHWM with its child processes', read while it runs). "
        f"Conversations with "
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


def _large_goal_rows(large: dict[str, t.Any] | None) -> list[str]:
    if not large:
        return []
    rows = []
    bound = goals.LARGE_VS_LOWER_BOUND
    for run in ("full", "incremental"):
        s = large[run]
        rows.append(
            f"| Large workspace, {run} sync (tap \\| target, {large['latency_ms']} ms) "
            f"| {_fmt(s['seconds'])} s for {s['requests']:,} requests, lower bound "
            f"{_fmt(s['lower_bound_seconds'])} s: **{s['vs_bound']:.2f}×** "
            f"| {bound.text} | {_met(bound.met(s['vs_bound']))} |"
        )
    full = large["full"]
    lowest = full["lowest_window"]
    ok = (
        None
        if math.isnan(lowest)
        else goals.RATE_UTILISATION.met(lowest) and goals.RATE_429_SHARE.met(full["share_429"])
    )
    rows.append(
        f"| Rate-limit use, large full sync at {large['limit_per_10s']:,}/10 s | lowest full "
        f"window {_fmt(lowest * 100, 0)} % of the limit ({len(full['windows'])} full windows), "
        f"{full['rate_limited']} × 429 ({full['share_429']:.1%}) | every full window "
        f"{goals.RATE_UTILISATION.text}, {goals.RATE_429_SHARE.text} 429 | {_met(ok)} |"
    )
    # A failed run's memory says nothing of the workspace (a target that died at import
    # reported 46 MB): no verdict then.
    ran = all(large[run].get("ok", True) for run in ("full", "incremental"))
    for program in ("tap", "target"):
        peak = max(large[run][f"{program}_rss_mb"] for run in ("full", "incremental"))
        met = goals.LARGE_PEAK_RSS_MB.met(peak) if ran else None
        rows.append(
            f"| Memory, {program} peak RSS on the large workspace | {peak:.0f} MB"
            f"{'' if ran else ' (a run failed)'} | {goals.LARGE_PEAK_RSS_MB.text} | {_met(met)} |"
        )
    return rows


def _large_row(run: str, s: dict[str, t.Any]) -> str:
    return (
        f"| {run} | {_fmt(s['seconds'])} | {s['requests']:,} "
        f"| {_fmt(s['lower_bound_seconds'])} | {s['vs_bound']:.2f} | {s['rate_limited']} "
        f"| {s['tap_rss_mb']:.0f} | {s['target_rss_mb']:.0f} "
        f"| {_fmt(s['tap_cpu_seconds'])} | {_fmt(s['target_cpu_seconds'])} |"
    )


def _large_section(large: dict[str, t.Any]) -> list[str]:
    workspace = (
        f"{large['contacts']:,} contacts, {large['conversations']:,} conversations with "
        f"{large['parts']:,} parts, {large['companies']:,} companies"
    )
    how = (
        f"{large['latency_ms']} ms latency, Intercom's private-app limit "
        f"({large['limit_per_10s']:,} per 10 s). `tap-intercom | target-sqlite-archive` as "
        "Meltano runs them, every stream selected by default; the incremental run starts from "
        f"the state the target emitted after {large['changed_contacts']:,} contacts and "
        f"{large['changed_conversations']:,} conversations changed. Lower bound = requests / "
        "(limit / 10 s). Peak RSS is each program's own VmHWM, its child processes' (the "
        "target's writer) added, read while it runs."
    )
    header = (
        "| run | wall s | requests | lower bound s | wall / bound | 429s | tap RSS MB "
        "| target RSS MB | tap CPU s | target CPU s |"
    )
    lines = ["## 6. Large workspace (issue 17)", "", f"{workspace}; {how}", "", header]
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    lines += [_large_row(run, large[run]) for run in ("full", "incremental")]
    full = large["full"]
    lines += [
        "",
        f"Requests in each full 10-second window of the full sync: {full['windows']} "
        f"(limit {large['limit_per_10s']:,}; {full['windows_touched']} windows touched, "
        f"{full['partial_requests']:,} requests in the partial first and last ones).",
        "",
        "The tap's own summary of the full sync: " + "; ".join(full["summary"]) + ".",
        "",
    ]
    left = large["incremental"].get("window_left_at_start")
    if left is not None:
        lines += [
            f"The incremental run started {left:.1f} s before the reset of the rate window it "
            "began in (the emulator's windows are fixed, as Intercom's are): the budget spreads "
            "what a window has left over its remaining time, so a run that starts late in a "
            "window is faster than the steady flow, and one that starts near its beginning "
            "gets only that flow.",
            "",
        ]
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
