"""The command line: help, version, exit codes and one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import episode_frames, write_clip

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


def test_help_does_not_import_torch() -> None:
    """The command line loads fast: its options and choices come from torch-free registries."""
    import subprocess
    import sys

    code = ("import sys\nfrom vidcolor._cli.main import cli\n"
            "for args in ([], ['render'], ['evaluate'], ['train']):\n"
            "    cli.main([*args, '--help'], prog_name='vidcolor', standalone_mode=False)\n"
            "assert 'torch' not in sys.modules, 'torch imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--fz-scale" in result.stdout and "--arch [plain|residual]" in result.stdout


def test_segmentation_options_come_from_the_registry() -> None:
    from vidcolor.inference.options import segmentation_flags

    code, out, _ = run("render", "--help")
    assert code == 0
    flags = segmentation_flags()
    assert [flag for flag, _, _ in flags] == ["--fz-scale", "--fz-sigma", "--fz-min-size"]
    for flag, segmentation, parameter in flags:
        assert flag in out and f"{segmentation.label} {parameter.help.split()[0]}" in out


def test_render_options_from_the_command_line() -> None:
    from vidcolor.errors import OptionError
    from vidcolor.inference.options import RenderOptions

    options = RenderOptions.from_cli(refine="felzenszwalb", fz_scale=50.0, fz_min_size=20,
                                     fz_sigma=None, working_scale=0.5, temporal=False,
                                     size=64)
    assert options.refine_options == {"working_scale": 0.5, "scale": 50.0, "min_size": 20}
    assert options.sequence == () and options.size == 64
    assert RenderOptions.from_cli() == RenderOptions()
    assert RenderOptions.from_cli(temporal=True).sequence == ("shots", "temporal")
    assert RenderOptions.from_cli(refine="none", working_scale=0.5).refine_options == {}
    for kwargs, message in (({"fz_scale": 50.0}, "--fz-scale needs --refine felzenszwalb"),
                            ({"colour": "red"}, "unknown render option.* colour"),
                            ({"refine": "felzenszwalb", "fz_min_size": 0}, "min_size"),
                            ({"debias": 2.0}, "--debias")):
        with pytest.raises(OptionError, match=message):
            RenderOptions.from_cli(**kwargs)


class _Marker:
    """A sequence stage for the test below: marks every frame it passes."""

    needs_probs = False
    view = None

    def __init__(self, context: object) -> None:
        self.context = context


def test_a_declared_sequence_stage_is_an_option_and_runs_after_what_it_needs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from vidcolor.errors import OptionError
    from vidcolor.inference import stages
    from vidcolor.inference.options import RenderOptions, sequence_flags

    # one declaration is the whole of a new stage (its module imported only when a render
    # builds it): it becomes a flag of from_cli, off by default, that brings what it needs
    monkeypatch.setitem(stages.SEQUENCE_STAGES, "marker", stages.SequenceEntry(
        "marker", f"{__name__}:_Marker", needs=("shots",), flag="mark-frames", help="Mark."))
    assert [entry.flag for entry in sequence_flags()] == ["temporal", "mark-frames"]
    assert RenderOptions.from_cli().sequence == ("shots", "temporal")
    assert RenderOptions.from_cli(temporal=False, mark_frames=True).sequence == \
        ("shots", "marker")
    assert RenderOptions.from_cli(mark_frames=True).sequence == ("shots", "temporal", "marker")
    built = stages.build_stages(stages.StageContext(
        RenderOptions(refine="none", sequence=("shots", "marker")), bins=np.zeros((2, 2))))
    assert [type(stage).__name__ for stage in built[:2]] == ["Shots", "_Marker"]
    with pytest.raises(ValueError, match="needs undeclared nothing"):
        stages.register_sequence_stage(stages.SequenceEntry("x", "m:x", needs=("nothing",)))
    with pytest.raises(OptionError, match="unknown sequence stage"):
        RenderOptions(sequence=("nothing",))


def test_render_help_lists_the_sequence_stages_flags() -> None:
    from vidcolor.inference.stages import SEQUENCE_STAGES

    code, out, _ = run("render", "--help")
    assert code == 0 and "--temporal / --no-temporal" in out
    assert SEQUENCE_STAGES["temporal"].help.split()[0] in out


def test_a_segmentation_option_without_its_refinement_is_a_usage_error(tmp_path: Path) -> None:
    for command in (["render", str(tmp_path / "in.mkv")], ["evaluate", str(tmp_path)]):
        code, _, err = run(*command, "--refine", "regiongrow", "--fz-sigma", "1")
        assert code == 2 and err.strip().splitlines()[-1] == \
            "Error: --fz-sigma needs --refine felzenszwalb", err
