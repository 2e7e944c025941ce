"""The ``vidcolor`` command group, global options and the error-to-exit-code policy.

Exit codes: 0 success, 1 a vidcolor error (one line on stderr), 2 usage error, 130 interrupted.
``--debug`` (or ``VIDCOLOR_DEBUG=1``) shows the traceback instead of the one line.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from vidcolor import __version__

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

log = logging.getLogger("vidcolor")


class _TqdmHandler(logging.Handler):
    """Logging handler that writes through tqdm so messages do not break progress bars."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.DEBUG if verbose else logging.INFO)
    root = logging.getLogger("vidcolor")
    root.handlers[:] = [_TqdmHandler()]
    root.handlers[0].setFormatter(logging.Formatter("%(levelname)s: %(message)s"
                                                    if verbose else "%(message)s"))
    root.setLevel(level)
    root.propagate = False


class VidcolorGroup(click.Group):
    """Click group that turns vidcolor errors and Ctrl-C into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        from vidcolor.errors import OptionError, VidcolorError

        debug = bool(os.environ.get("VIDCOLOR_DEBUG")) or "--debug" in sys.argv
        try:
            return super().invoke(ctx)
        except OptionError as exc:  # a value the library refused: a usage error
            if debug:
                raise
            click.echo(f"vidcolor: error: {_one_line(str(exc))}", err=True)
            ctx.exit(EXIT_USAGE)
        except VidcolorError as exc:
            if debug:
                raise
            click.echo(f"vidcolor: error: {_one_line(str(exc))}", err=True)
            ctx.exit(EXIT_FAILURE)
        except OSError as exc:  # the last net: the system refused something no check foresaw
            if debug or not _is_environment_error(exc):
                raise
            name = str(exc.filename or "")
            where = f"{name if len(name) <= 200 else name[:80] + '...' + name[-80:]}: " \
                if name else ""
            click.echo(f"vidcolor: error: {_one_line(where + str(exc.strerror or exc))}",
                       err=True)
            ctx.exit(EXIT_FAILURE)
        except MemoryError:
            if debug:
                raise
            click.echo("vidcolor: error: out of memory; use a smaller --size, --batch-size or "
                       "--workers", err=True)
            ctx.exit(EXIT_FAILURE)
        except KeyboardInterrupt:
            if debug:
                raise
            click.echo("vidcolor: interrupted; re-run the same command to resume", err=True)
            ctx.exit(EXIT_INTERRUPTED)


def _one_line(message: str) -> str:
    """``message`` with control characters escaped: a file named with a newline must not
    make the error two lines.

    >>> _one_line("bad\\nname.mkv: not a video")
    'bad\\\\nname.mkv: not a video'
    """
    if message.isprintable():
        return message
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def _is_environment_error(exc: OSError) -> bool:
    """Whether ``exc`` is the machine's refusal (full disk, file-size limit, a name too long,
    a symlink loop, ...) rather than a defect; only those become one line without a traceback."""
    import errno

    from vidcolor.fsutil import STORAGE_ERRNOS

    return exc.errno in STORAGE_ERRNOS or exc.errno in (
        errno.ENAMETOOLONG, errno.ELOOP, errno.ENOMEM, errno.EMFILE, errno.ENFILE)


@click.group(cls=VidcolorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="vidcolor")
@click.option("-q", "--quiet", is_flag=True, help="Only print errors; no progress bars.")
@click.option("-v", "--verbose", count=True, help="More detail in the log (repeatable).")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
def cli(quiet: bool, verbose: int, debug: bool) -> None:
    """vidcolor: colourise black-and-white cartoon video.

    \b
    Learn a series' colours from its colour episodes, then paint the rest:
      vidcolor demo-data demo/                      # a synthetic series to try it on
      vidcolor build-dataset demo/episode*.mkv      # frames -> ./dataset
      vidcolor train --arch residual                # ./dataset -> ./runs/residual
      vidcolor render bw.mkv --refine felzenszwalb --ensemble
    """
    from vidcolor import progress

    _setup_logging(verbose, quiet)
    progress.set_enabled(not quiet)


def _register() -> None:
    import importlib

    for name in ("demo_data", "build_dataset", "train", "evaluate", "render", "shots"):
        module = importlib.import_module(f"vidcolor._cli.{name}")
        cli.add_command(getattr(module, name))


_register()


if __name__ == "__main__":  # pragma: no cover
    cli()
