"""``python -m vidcolor`` (and ``torchrun -m vidcolor``) runs the CLI."""

from vidcolor._cli.main import cli

if __name__ == "__main__":
    cli(prog_name="vidcolor")
