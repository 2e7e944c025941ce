"""The command line: help, version, exit codes and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import write_clip
from tests.test_dataset import episode_frames
from vidcolor import __version__
from vidcolor._cli.main import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_version_and_help_on_every_command() -> None:
    code, out, _ = run("--version")
    assert code == 0 and __version__ in out
    for command in ("demo-data", "build-dataset", "train", "evaluate", "render"):
        code, out, _ = run(command, "--help")
        assert code == 0 and f" {command} [OPTIONS]" in out, command


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    (b"definitely not a video", "not a readable video"),
])
def test_build_dataset_bad_input_is_one_line(tmp_path: Path, content: bytes | None,
                                             message: str) -> None:
    bad = tmp_path / "bad.mkv"
    if content is not None:
        bad.write_bytes(content)
    code, _, err = run("build-dataset", str(bad), "-o", str(tmp_path / "ds"))
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and message in lines[0]


def test_build_dataset_cli_writes_dataset_and_refuses_other_parameters(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "ep0.mkv", episode_frames(0))
    out = tmp_path / "ds"
    code, _, err = run("-q", "build-dataset", str(clip), "-o", str(out), "--size", "32")
    assert code == 0, err
    assert (out / "manifest.csv").exists() and (out / "meta.json").exists()
    code, _, err = run("build-dataset", str(clip), "-o", str(out), "--size", "64")
    assert code == 1 and "other parameters" in err and len(err.strip().splitlines()) == 1


def test_usage_error_exit_code(tmp_path: Path) -> None:
    code, _, _ = run("build-dataset")
    assert code == 2
