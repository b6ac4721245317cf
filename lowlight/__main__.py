"""Entry point: ``lowlight COMMAND ...`` or ``python -m lowlight COMMAND ...``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from core.cli import PROG, Command
from core.cli import main as core_main


def run_train(argv: list[str]) -> int:
    """``lowlight train``: the trainer's options and run; returns the exit code."""
    from trainer.cli import add_train_arguments
    from trainer.cli import run_train as train

    parser = argparse.ArgumentParser(prog=f"{PROG} train", description="Train MIRNet on paired photos.")
    add_train_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help or a usage error
        return int(exc.code or 0)
    return int(train(args))


COMMANDS = {
    "train": Command(
        help=f"train a model (see '{PROG} train --help')",
        run=run_train,
        interrupted=f"the run keeps its last finished epoch: continue it with '{PROG} train ... --resume'",
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``lowlight``; returns the exit code."""
    return core_main(argv, COMMANDS)


if __name__ == "__main__":
    sys.exit(main())
