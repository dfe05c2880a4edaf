"""Target benchmarks from one Singer file: ours (`.venv/bin/target-sqlite-archive`), dlt
loading the same records into SQLite (merge, child tables; `benchmarks/dlt_load.py` in
`benchmarks/.venv-dlt`) and the singer-sdk's sample SQLite target (`meltano-target-sqlite`
from the singer-sdk 0.54.9 sdist, in `benchmarks/.venv-sdk-sqlite`).

The Singer files come from `benchmarks/target/generate.py` (the target engineer's generator of
Intercom-shaped records in the project's stream schemas).
"""

from __future__ import annotations

import json
import shutil
import typing as t
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import (
    BENCH,
    DLT_VENV,
    SDK_SQLITE_VENV,
    VENV_BIN,
    Run,
    out_dir,
    run_measured,
)
from benchmarks.target import generate


@dataclass
class TargetRun:
    program: str
    input: str
    records: int
    conversations: int
    run: Run

    @property
    def ok(self) -> bool:
        return self.run.returncode == 0


def contacts_file(count: int) -> Path:
    inputs = out_dir() / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    path = inputs / f"contacts-{count}.singer"
    if not path.exists():
        partial = path.with_suffix(".partial")
        generate.write_contacts(partial, count)
        partial.rename(path)
    return path


def conversations_file(count: int, parts: int) -> Path:
    inputs = out_dir() / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    path = inputs / f"conversations-{count}x{parts}.singer"
    if not path.exists():
        partial = path.with_suffix(".partial")
        generate.write_conversations(partial, count, parts)
        partial.rename(path)
    return path


def startup_file(source: Path) -> Path:
    """The SCHEMA messages of `source` alone: a run on it is the program's fixed cost."""
    path = source.with_name(f"startup-{source.name}")
    if not path.exists():
        with source.open("rb") as lines, path.open("wb") as out:
            for raw in lines:
                if b'"SCHEMA"' in raw[:40]:
                    out.write(raw)
    return path


def programs() -> dict[str, bool]:
    """Which target programs can run here."""
    return {
        "ours": (VENV_BIN / "target-sqlite-archive").exists(),
        "dlt": (DLT_VENV / "bin" / "python").exists(),
        "sdk-sqlite": (SDK_SQLITE_VENV / "bin" / "target-sqlite").exists(),
    }


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def run_target(
    program: str,
    singer_file: Path,
    folder: Path,
    settings: dict[str, t.Any] | None = None,
    *,
    fresh: bool = True,
) -> Run:
    """One run of `program` on `singer_file` into a fresh database under `folder` (ours with
    `settings` added to its config); `fresh=False`: into the database the last run left."""
    if fresh:
        folder = _fresh(folder)
    database = folder / "out.sqlite"
    if program == "ours":
        config = folder / "config.json"
        config.write_text(json.dumps({"database": str(database), **(settings or {})}))
        argv = [str(VENV_BIN / "target-sqlite-archive"), "--config", str(config)]
        return run_measured(argv, stdin=singer_file, singer_output=False)
    if program == "sdk-sqlite":
        config = folder / "config.json"
        config.write_text(json.dumps({"path_to_db": str(database)}))
        argv = [str(SDK_SQLITE_VENV / "bin" / "target-sqlite"), "--config", str(config)]
        return run_measured(argv, stdin=singer_file, singer_output=False)
    if program == "dlt":
        argv = [
            str(DLT_VENV / "bin" / "python"),
            str(BENCH / "dlt_load.py"),
            str(singer_file),
            str(database),
        ]
        return run_measured(argv, singer_output=False)
    raise ValueError(program)


def throughput(
    singer_files: dict[str, tuple[Path, int, int]],
    repeat: int,
    which: t.Iterable[str],
) -> list[TargetRun]:
    """Every program on every input, `repeat` times, interleaved so noise hits all alike."""
    runs: list[TargetRun] = []
    for name, (path, records, conversations) in singer_files.items():
        for _ in range(repeat):
            for program in which:
                run = run_target(program, path, out_dir() / "work" / f"target-{program}")
                runs.append(TargetRun(program, name, records, conversations, run))
    return runs
