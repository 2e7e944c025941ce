"""``vidcolor evaluate``: score trained runs on a dataset split against the all-grey baseline."""

from __future__ import annotations

import click


def _check_decode(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from vidcolor.quantize import parse_decode

    try:
        parse_decode(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    return value


@click.command("evaluate")
@click.argument("runs", nargs=-1, required=True, type=click.Path())
@click.option("--dataset", "dataset_dir", default="dataset", show_default=True,
              type=click.Path(file_okay=False), help="Dataset folder.")
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@click.option("--decode", default="expectation", show_default=True, callback=_check_decode,
              help="expectation | annealed[:T] | mode")
@click.option("--max-images", type=click.IntRange(1), default=None,
              help="Score at most this many frames (evenly spaced).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True)
def evaluate(runs: tuple[str, ...], dataset_dir: str, split: str, decode: str,
             max_images: int | None, device: str) -> None:
    """Score each of RUNS (run folders or checkpoints) on a split: PSNR and αβ error (SPEC §8).

    Prints one line per run next to the all-grey baseline (L kept, a = b = 0).
    """
    from vidcolor.train import evaluate as score

    for run in runs:
        result = score(run, dataset_dir, split, device=device, decode=decode,
                       max_images=max_images, progress=True)
        click.echo(f"{run}: {int(result['images'])} {split} frames  "
                   f"PSNR {result['model_psnr']:.2f} dB (grey {result['grey_psnr']:.2f})  "
                   f"ab error {result['model_ab_rmse']:.4f} (grey {result['grey_ab_rmse']:.4f})")
