"""Shared helpers of the benchmarks: the emulator as a separate process, child processes
measured on their own (peak RSS, CPU), Singer output counted.

Everything here runs in the project's `.venv`; the peer programs run in their own virtual
environments (see `benchmarks/run`) and are only ever started as child processes.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import typing as t
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
OUT = BENCH / "out"  # default; BENCHMARKS_OUT moves it (the smoke test writes to a tmp dir)
VENV_BIN = Path(sys.executable).parent
TOKEN = "emulator-token"  # noqa: S105 - the emulator's fixed synthetic token
PEER_VENV = BENCH / ".venv-peer-tap"
DLT_VENV = BENCH / ".venv-dlt"
SDK_SQLITE_VENV = BENCH / ".venv-sdk-sqlite"
PRIVATE_APP_RATE = 1667  # requests per 10 s


def out_dir() -> Path:
    return Path(os.environ.get("BENCHMARKS_OUT") or OUT)


def log(message: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    print(f"[bench {stamp}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- emulator
class EmulatorProcess:
    """`python -m tests.emulator` in its own process (own GIL), driven over its control routes."""

    def __init__(self, *, latency_ms: int = 0, rate_limit: int = 1_000_000, **sizes: int) -> None:
        args = [
            sys.executable,
            "-m",
            "tests.emulator",
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
            "--rate-limit",
            str(rate_limit),
            "--token",
            TOKEN,
        ]
        for name, value in sizes.items():
            args += [f"--{name.replace('_', '-')}", str(value)]
        self.args = args
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> EmulatorProcess:
        self.proc = subprocess.Popen(
            self.args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("EMULATOR_URL="):
            self.proc.kill()
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.url = line.split("=", 1)[1]
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def _call(self, route: str, body: dict[str, t.Any] | None = None) -> t.Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - a 127.0.0.1 URL we started
            f"{self.url}/_emulator/{route}",
            data=data,
            method="GET" if body is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            text = response.read()
        return json.loads(text) if text else None

    def stats(self) -> dict[str, t.Any]:
        return dict(self._call("stats"))

    def reset_stats(self) -> None:
        self._call("reset_stats", {})

    def configure(self, **changes: t.Any) -> None:
        self._call("configure", changes)

    def truth(self) -> dict[str, t.Any]:
        return dict(self._call("truth"))

    def mutate(self, action: str, entity: str, **kwargs: t.Any) -> list[str]:
        answer = self._call("mutate", {"action": action, "entity": entity, **kwargs})
        return [str(i) for i in answer["ids"]]

    def warm(self) -> None:
        """Have the emulator sort its search views now, after a benchmark's changes: else the
        first searches of the timed run sort every record (100,000 contacts: about 2 s of the
        emulator's CPU, on the two cores our programs run on)."""
        self._call("warm", {})


# --------------------------------------------------------------------------- processes
@dataclass
class Run:
    """One measured child process."""

    seconds: float
    max_rss_mb: float
    returncode: int
    cpu_seconds: float = 0.0  # user + system time of the child itself
    records: dict[str, int] = field(default_factory=dict)
    ids: dict[str, set[str]] = field(default_factory=dict)
    state: dict[str, t.Any] | None = None
    stderr_tail: str = ""
    first_record: dict[str, float] = field(default_factory=dict)
    last_record: dict[str, float] = field(default_factory=dict)

    @property
    def total_records(self) -> int:
        return sum(self.records.values())


class _SingerReader(threading.Thread):
    """Reads a tap's stdout as it comes: counts records per stream, keeps ids, the last state,
    and the time of each stream's first and last record."""

    def __init__(self, stream: t.IO[bytes], keep_ids: bool) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.keep_ids = keep_ids
        self.records: dict[str, int] = {}
        self.ids: dict[str, set[str]] = {}
        self.state: dict[str, t.Any] | None = None
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def run(self) -> None:
        for raw in self.stream:
            head = raw[:64]
            if b'"RECORD"' in head:
                match = _STREAM.search(raw, 0, 256)
                name = match.group(1).decode() if match else "?"
                now = time.perf_counter()
                self.records[name] = self.records.get(name, 0) + 1
                self.first.setdefault(name, now)
                self.last[name] = now
                if self.keep_ids:
                    record = json.loads(raw).get("record") or {}
                    if "id" in record:
                        self.ids.setdefault(name, set()).add(str(record["id"]))
            elif b'"STATE"' in head:
                with contextlib.suppress(ValueError):
                    self.state = json.loads(raw).get("value")


_STREAM = re.compile(rb'"stream": ?"([^"]+)"')


class PeakRss:
    """A program's peak RSS: its process's and its child processes' (the target's writer)
    VmHWM from /proc/<pid>/status, read at every poll.

    wait4's ru_maxrss is no good here: Linux counts in it the benchmark process's own RSS at the
    fork (the high-water mark of the memory the child replaced when it exec'd), so every child
    of a benchmark holding a large workspace's truth reported that size. VmHWM belongs to a
    process's own address space since its exec; the last reading before it exits is its peak
    (to the 10 ms between polls). The sum of the peaks of a program's processes bounds the
    program's peak from above.
    """

    def __init__(self) -> None:
        self.kb: dict[int, dict[int, int]] = {}

    def poll(self, pid: int) -> None:
        peaks = self.kb.setdefault(pid, {})
        todo = [pid]
        while todo:
            current = todo.pop()
            with contextlib.suppress(OSError, ValueError):
                for line in Path(f"/proc/{current}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks[current] = max(peaks.get(current, 0), int(line.split()[1]))
                        break
                children = Path(f"/proc/{current}/task/{current}/children").read_text()
                todo += [int(child) for child in children.split()]

    def mb(self, pid: int, usage: t.Any) -> float:
        """The peak in MB; ru_maxrss only when the child ended before the first poll."""
        return (sum(self.kb.get(pid, {}).values()) or usage.ru_maxrss) / 1024


def run_measured(
    argv: list[str],
    *,
    stdin: Path | None = None,
    singer_output: bool = True,
    keep_ids: bool = False,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 3600,
) -> Run:
    """Run `argv`, reading its Singer stdout; wall time, the child's own peak RSS (PeakRss)
    and CPU."""
    stdin_file = stdin.open("rb") if stdin is not None else subprocess.DEVNULL
    program = Path(argv[1] if argv[0].endswith("python") else argv[0]).stem
    err_path = out_dir() / "logs" / f"{time.strftime('%H%M%S')}-{program}-{time.monotonic_ns()}.log"
    err_path.parent.mkdir(parents=True, exist_ok=True)
    with err_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            stdin=stdin_file,
            stdout=subprocess.PIPE if singer_output else subprocess.DEVNULL,
            stderr=err,
            env=env,
            cwd=cwd or ROOT,
        )
        reader = None
        if singer_output:
            assert proc.stdout is not None
            reader = _SingerReader(proc.stdout, keep_ids)
            reader.start()
        deadline = time.monotonic() + timeout
        peak = PeakRss()
        while True:
            peak.poll(proc.pid)
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if reader is not None:
            reader.join()
    if hasattr(stdin_file, "close"):
        stdin_file.close()
    tail = err_path.read_text(errors="replace")[-4000:]
    run = Run(
        seconds=seconds,
        max_rss_mb=peak.mb(proc.pid, usage),
        returncode=proc.returncode,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        stderr_tail=tail,
    )
    if reader is not None:
        run.records, run.ids, run.state = reader.records, reader.ids, reader.state
        run.first_record, run.last_record = reader.first, reader.last
    if run.returncode != 0:
        log(f"{argv[0]} exited {run.returncode}: {tail[-1500:]}")
    return run


@dataclass
class PipelineRun:
    """tap | target, each measured on its own (wall time is the pipeline's)."""

    seconds: float
    tap: Run
    target: Run
    state: dict[str, t.Any] | None

    @property
    def ok(self) -> bool:
        return self.tap.returncode == 0 and self.target.returncode == 0


def fresh_archive_target(folder: Path, name: str) -> tuple[Path, list[str]]:
    """An empty archive `<folder>/<name>.sqlite` (the last run's and its WAL removed) and the
    argv of target-sqlite-archive writing it."""
    database = folder / f"{name}.sqlite"
    for stale in folder.glob(f"{name}.sqlite*"):
        stale.unlink()
    config = folder / "target-config.json"
    config.write_text(json.dumps({"database": str(database)}))
    return database, [str(VENV_BIN / "target-sqlite-archive"), "--config", str(config)]


def run_pipeline(tap_argv: list[str], target_argv: list[str], timeout: float = 7200) -> PipelineRun:
    """`tap | target` as Meltano runs them: wall time, each child's peak RSS (PeakRss) and CPU
    (wait4), and the last state the target emitted (after its commit)."""
    logs = out_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stamp = f"{time.strftime('%H%M%S')}-{time.monotonic_ns()}"
    with (
        (logs / f"{stamp}-pipeline-tap.log").open("wb") as tap_err,
        (logs / f"{stamp}-pipeline-target.log").open("wb") as target_err,
    ):
        started = time.perf_counter()
        tap = subprocess.Popen(
            tap_argv, stdout=subprocess.PIPE, stderr=tap_err, stdin=subprocess.DEVNULL, cwd=ROOT
        )
        target = subprocess.Popen(
            target_argv, stdin=tap.stdout, stdout=subprocess.PIPE, stderr=target_err, cwd=ROOT
        )
        assert tap.stdout is not None
        assert target.stdout is not None
        tap.stdout.close()  # the target holds the only reading end: a dead target stops the tap
        emitted: collections.deque[bytes] = collections.deque(maxlen=1)
        # A target writes each state it has committed as one JSON line (the state's value).
        reader = threading.Thread(target=lambda: emitted.extend(target.stdout or []), daemon=True)
        reader.start()
        finished: dict[int, tuple[float, int, t.Any]] = {}
        deadline = time.monotonic() + timeout
        peak = PeakRss()
        while len(finished) < 2:
            for proc in (tap, target):
                if proc.pid in finished:
                    continue
                peak.poll(proc.pid)
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    proc.returncode = os.waitstatus_to_exitcode(status)
                    finished[proc.pid] = (time.perf_counter() - started, proc.returncode, usage)
            if time.monotonic() > deadline:
                tap.kill()
                target.kill()
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        reader.join()

    def measured(proc: subprocess.Popen[bytes], program: str, err: Path) -> Run:
        secs, code, usage = finished[proc.pid]
        tail = err.read_text(errors="replace")[-4000:]
        if code != 0:
            log(f"{program} exited {code}: {tail[-1500:]}")
        return Run(
            seconds=secs,
            max_rss_mb=peak.mb(proc.pid, usage),
            returncode=code,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            stderr_tail=tail,
        )

    return PipelineRun(
        seconds=seconds,
        tap=measured(tap, "tap", logs / f"{stamp}-pipeline-tap.log"),
        target=measured(target, "target", logs / f"{stamp}-pipeline-target.log"),
        state=json.loads(emitted[-1]) if emitted else None,
    )


def median(values: t.Iterable[float]) -> float:
    items = list(values)
    return statistics.median(items) if items else float("nan")


def machine() -> dict[str, str]:
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": _git_commit(),
    }


def _git_commit() -> str:
    """The commit measured, with '+ uncommitted changes' when the work tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                "tap-intercom",
                "target-sqlite-archive",
                "tests/emulator",
                "benchmarks",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head} + uncommitted changes" if dirty else head or "unknown"


def write_json(path: Path, value: t.Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1, sort_keys=True, default=str))
    return path


# --------------------------------------------------------------------------- rate windows
class StatsSampler(threading.Thread):
    """Polls the emulator's request count while a run goes on: `(unix time, total)` samples,
    from which `window_counts` recovers the requests of each fixed 10-second window."""

    def __init__(self, emulator: EmulatorProcess, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.emulator = emulator
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            before = time.time()
            total = int(self.emulator.stats()["total"])
            self.samples.append(((before + time.time()) / 2, total))
            self._stop_event.wait(self.interval)

    def stop(self) -> list[tuple[float, int]]:
        self._stop_event.set()
        self.join()
        return self.samples


def window_counts(
    samples: list[tuple[float, int]], window: float = 10.0
) -> tuple[list[int], int, int]:
    """Requests in each window the run covered from start to end, the number of windows it
    touched at all, and the requests in the partial first and last windows.

    A window is full when requests were already counted before it began and still came after
    it ended. Its count is the total at the last sample before its end minus the total at
    the last sample before its start (the tap spends a window's budget at its start and then
    waits, so samples near the boundaries are quiet).
    """
    if not samples:
        return [], 0, 0
    final = samples[-1][1]
    started = next((ts for ts, total in samples if total > 0), None)
    finished = next((ts for ts, total in samples if total >= final), None)
    if started is None or finished is None or final == 0:
        return [], 0, 0

    def total_before(moment: float) -> int:
        value = 0
        for ts, total in samples:
            if ts >= moment:
                break
            value = total
        return value

    first_window = int(started // window) + 1
    last_window = int(finished // window)  # exclusive: the window `finished` falls into
    counts = [
        total_before((w + 1) * window) - total_before(w * window)
        for w in range(first_window, last_window)
    ]
    touched = int(finished // window) - int(started // window) + 1
    return counts, touched, final - sum(counts)
