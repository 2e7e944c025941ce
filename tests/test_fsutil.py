"""Tests of vidcolor.fsutil: atomic outputs and the exclusive lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
