"""A run's per-epoch log (``RUN/log.jsonl``: one JSON object of numbers per epoch), read with
every line checked, and written atomically."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from vidcolor.errors import CheckpointError
from vidcolor.fsutil import write_bytes_atomic

#: A training log holds one short line per epoch; far larger is not one.
_MAX_LOG_BYTES = 64 << 20


def read_log_lines(log_path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Each line of a run's log with its entry: a JSON object of numbers (``epoch`` an
    integer >= 1; ``null`` where there is none).

    Raises:
        CheckpointError: naming the file, the line and the field that is wrong.
    """
    if not log_path.is_file():
        return []
    try:
        if log_path.stat().st_size > _MAX_LOG_BYTES:
            raise CheckpointError(f"{log_path}: {log_path.stat().st_size} bytes: too large "
                                  "for a training log")
        text = log_path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{log_path}: unreadable training log ({exc})") from exc
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            entry = None
        if not isinstance(entry, dict):
            raise CheckpointError(f"{log_path}: line {number} is not a JSON object; delete "
                                  "the line or the file")
        epoch = entry.get("epoch")
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
            raise CheckpointError(f"{log_path}: line {number}: epoch is {epoch!r} (must be "
                                  "an integer >= 1)")
        for key, value in entry.items():
            if value is not None and (isinstance(value, bool) or not isinstance(
                    value, (int, float)) or not math.isfinite(value)):
                raise CheckpointError(f"{log_path}: line {number}: {key} is {value!r} "
                                      "(must be a finite number or null)")
        lines.append((line, entry))
    return lines


def trim_log(log_path: Path, keep_epochs: int) -> None:
    """Drop log lines of epochs after ``keep_epochs`` (left by an interrupted run)."""
    if keep_epochs == 0:  # a new run: whatever is there logs no checkpoint
        write_log(log_path, [])
        return
    lines = read_log_lines(log_path)
    kept = [line for line, entry in lines if entry["epoch"] <= keep_epochs]
    if len(kept) < len(lines):
        write_log(log_path, kept)


def write_log(log_path: Path, lines: list[str]) -> None:
    """Write the log's lines atomically (it is small: one line per epoch); none: no log."""
    if lines:
        write_bytes_atomic(log_path, "".join(f"{line}\n" for line in lines).encode())
    else:
        log_path.unlink(missing_ok=True)


def read_log(run_dir: str | Path) -> list[dict[str, Any]]:
    """The per-epoch metrics of a run (``RUN/log.jsonl``).

    Raises:
        CheckpointError: a line is not a JSON object of numbers.
    """
    return [entry for _, entry in read_log_lines(Path(run_dir) / "log.jsonl")]

