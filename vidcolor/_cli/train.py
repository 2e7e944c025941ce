"""``vidcolor train``: train a colourisation network on a dataset (one call to
:func:`vidcolor.training.loop.train`; ``--resume`` merges its options with
:func:`vidcolor.training.resume.resume_config`)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from vidcolor.models import ARCHITECTURES, all_variants  # torch-free: the registry


def _either(names: list[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 2 else names)


def _default_variant(arch: str) -> str:
    """The first variant of ``arch`` (``rebalance``; an unknown arch is refused later)."""
    return ARCHITECTURES[arch].variants[0] if arch in ARCHITECTURES else all_variants()[0]


def _arch_help() -> str:
    """``--arch``'s help, from the registry: each network and its description."""
    networks = [f"{arch.name} ({arch.description})" for arch in ARCHITECTURES.values()]
    return f"Network: {_either(networks)}. Required unless --resume."


def _variant_help() -> str:
    """``--variant``'s help, from the registry: the default and the variants that only some
    networks have (``dropout and l2 are plain only``)."""
    default = all_variants()[0]
    having: dict[tuple[str, ...], list[str]] = {}
    for variant in all_variants():
        archs = tuple(a.name for a in ARCHITECTURES.values() if variant in a.variants)
        if len(archs) < len(ARCHITECTURES):
            having.setdefault(archs, []).append(variant)
    only = [f"{' and '.join(variants)} {'are' if len(variants) > 1 else 'is'} "
            f"{'/'.join(archs)} only" for archs, variants in having.items()]
    return f"Loss/graph variant [default: {default}]" + "".join(f"; {o}" for o in only) + "."


@click.command("train")
@click.option("--arch", type=click.Choice(list(ARCHITECTURES)), default=None, help=_arch_help())
@click.option("--variant", type=click.Choice(all_variants()), default=None, help=_variant_help())
@click.option("--dataset", "dataset_dir", type=click.Path(path_type=Path), default=None,
              help="Dataset folder from `vidcolor build-dataset` [default: ./dataset; with "
                   "--resume, the dataset the run was trained on].")
@click.option("--switch-dataset", is_flag=True,
              help="With --resume: train on --dataset although the run was trained on another "
                   "dataset (or other test episodes). Its test episodes may have been the "
                   "run's training episodes, so the test loss is no longer held out.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Run folder [default: runs/<arch>[-<variant>]].")
@click.option("--resume", type=click.Path(path_type=Path), default=None,
              help="Continue the run in this folder from its latest checkpoint, on its own "
                   "dataset, to its own number of epochs; its stored options are kept, except "
                   "--epochs, --device, --workers and --keep-checkpoints when given.")
@click.option("--width", type=float, default=1.0, show_default=True,
              help="Channel multiplier (e.g. 0.125 for a quick CPU model).")
@click.option("--epochs", type=int, default=30, show_default=True)
@click.option("--batch-size", type=int, default=16, show_default=True,
              help="Micro-batch per process.")
@click.option("--accumulate", type=int, default=3, show_default=True,
              help="Micro-batches per optimiser step (effective batch = product).")
@click.option("--crop", type=int, default=224, show_default=True,
              help="Random square crop side (multiple of 8).")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Adam learning rate.")
@click.option("--lr-step", type=int, default=15, show_default=True,
              help="Epochs between learning-rate drops.")
@click.option("--lr-gamma", type=float, default=0.3, show_default=True,
              help="Learning-rate factor at each drop.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True)
@click.option("--workers", type=int, default=2, show_default=True,
              help="Data-loading processes (0: load in the main process).")
@click.option("--max-images", type=int, default=None,
              help="Train on at most this many frames (evenly spaced), for quick demos.")
@click.option("--max-test-images", type=int, default=None,
              help="Compute the per-epoch test loss on at most this many test frames "
                   "(evenly spaced; whole frames cost more than crops). Default: all.")
@click.option("--keep-checkpoints", type=int, default=2, show_default=True, metavar="N",
              help="Keep the checkpoints of the latest N epochs and of the best one (lowest "
                   "test loss, named by best.json); older ones are deleted.")
def train(arch: str | None, variant: str | None, dataset_dir: Path | None,
          switch_dataset: bool, output: Path | None, resume: Path | None, width: float,
          epochs: int, batch_size: int, accumulate: int, crop: int, lr: float, lr_step: int,
          lr_gamma: float, seed: int, device: str, workers: int, max_images: int | None,
          max_test_images: int | None, keep_checkpoints: int) -> None:
    """Train a network on DATASET's training split; a checkpoint after every epoch.

    \b
      vidcolor train --arch residual                       # ./dataset -> ./runs/residual
      vidcolor train --arch plain --variant l2 --width 0.125 --crop 64 --epochs 5
      vidcolor train --resume runs/residual                # continue it, on its dataset
      torchrun --nproc_per_node=4 -m vidcolor train --arch plain   # multi-GPU
    """
    from vidcolor.errors import OptionError  # a usage error in one line
    from vidcolor.training.config import TrainConfig
    from vidcolor.training.loop import train as train_run
    from vidcolor.training.resume import resume_config

    options = dict(
        arch=arch, variant=variant, width=width, epochs=epochs, batch_size=batch_size,
        accumulate=accumulate, crop=crop, lr=lr, lr_step=lr_step, lr_gamma=lr_gamma, seed=seed,
        device=device, workers=workers, max_images=max_images, max_test_images=max_test_images,
        keep_checkpoints=keep_checkpoints)
    if resume is not None:
        ctx = click.get_current_context()
        given = {name: value for name, value in options.items()
                 if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT}
        config = resume_config(resume, given)  # checked: exit 2
        if output is not None and output.resolve() != resume.resolve():
            raise OptionError("--resume RUN continues RUN in place; drop -o")
        output = resume
    elif switch_dataset:
        raise OptionError("--switch-dataset only applies with --resume")
    elif arch is None:
        raise OptionError(f"--arch is required ({_either(list(ARCHITECTURES))})")
    else:
        variant = variant or _default_variant(arch)
        config = TrainConfig(**{**options, "variant": variant})  # checked: exit 2
    run = train_run(config, dataset_dir, output, resume=resume is not None,
                    switch_dataset=switch_dataset, progress=True)
    if int(os.environ.get("RANK", "0")) == 0:
        click.echo(str(run))
