"""Tests of vidcolor.fsutil: atomic outputs and the exclusive lock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import file_size_limit

from vidcolor import fsutil
from vidcolor.errors import OutputError
from vidcolor.fsutil import atomic_path, exclusive, lock_path


def test_atomic_path_leaves_nothing_on_error(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_second_holder_is_refused_then_admitted(tmp_path: Path) -> None:
    target = tmp_path / "dataset"
    other = ("from vidcolor.fsutil import exclusive\n"
             f"with exclusive({str(target)!r}, 'building it'):\n    print('got it')")
    with exclusive(target, "building it"):
        held = subprocess.run([sys.executable, "-c", other], capture_output=True, text=True)
        assert held.returncode != 0
        assert "is building it" in held.stderr
    free = subprocess.run([sys.executable, "-c", other], capture_output=True, text=True)
    assert free.returncode == 0 and "got it" in free.stdout
    assert lock_path(target) == tmp_path / ".dataset.lock"


def test_lock_of_a_killed_holder_is_free(tmp_path: Path) -> None:
    target = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c",
                               "import time\nfrom vidcolor.fsutil import exclusive\n"
                               f"with exclusive({str(target)!r}):\n"
                               "    print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(OutputError), exclusive(target):
        pass
    holder.kill()
    holder.wait()
    with exclusive(target, wait=5):
        pass
    assert not lock_path(target).exists()  # removed by its last holder




def test_write_refused_by_the_storage_is_one_error_and_publishes_nothing(tmp_path):
    target = tmp_path / "record.json"
    target.write_bytes(b"the previous version")
    with file_size_limit(1000), pytest.raises(OutputError, match="record.json: cannot write"):
        fsutil.write_bytes_atomic(target, b"x" * 5000)
    assert target.read_bytes() == b"the previous version"
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_an_empty_file_is_never_published(tmp_path):
    target = tmp_path / "frame.png"
    with pytest.raises(OutputError, match="frame.png: the writer produced an empty file"), \
            fsutil.atomic_path(target):
        pass  # a writer that reported success but wrote nothing (OpenCV on a full disk)
    assert not list(tmp_path.iterdir())
    fsutil.write_bytes_atomic(target, b"")  # an empty file asked for is written
    assert target.read_bytes() == b""


def test_lock_of_a_long_name_fits_and_stays_apart(tmp_path):
    first, second = tmp_path / ("a" * 250 + "1"), tmp_path / ("a" * 250 + "2")
    assert len(lock_path(first).name.encode()) <= 255
    assert lock_path(first) != lock_path(second)
    with exclusive(first, "testing"):  # the lock file can be made
        assert lock_path(first).is_file()


def test_a_record_that_is_a_fifo_or_huge_is_not_trusted(tmp_path, monkeypatch):
    fifo = tmp_path / "record.json"
    os.mkfifo(fifo)
    assert fsutil.read_json_object(fifo) == {}  # at once: no writer is waited for
    big = tmp_path / "big.json"
    big.write_text('{"a": "' + "x" * 100 + '"}')
    monkeypatch.setattr(fsutil, "RECORD_LIMIT", 50)
    assert fsutil.read_json_object(big) == {}
