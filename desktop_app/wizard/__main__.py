"""``python -m desktop_app.wizard [--data DIR] [--weights CURRENT.safetensors]``: the wizard on its own."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m desktop_app.wizard", description="Retrain the model.")
    parser.add_argument("--data", type=Path, help="dataset folder to start with")
    parser.add_argument("--weights", type=Path, help="the current model, for the comparison on the last page")
    parser.add_argument("--runs", type=Path, help="runs folder (default: the user data folder's runs/)")
    parser.add_argument("--models", type=Path, help="where to install new models (default: user models folder)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from ..app import create_application
    from .state import WizardContext
    from .wizard import RetrainWizard

    app = create_application([sys.argv[0]])
    wizard = RetrainWizard(WizardContext(models_dir=args.models, runs_dir=args.runs,
                                         current_weights=args.weights, dataset=args.data))
    wizard.weightsInstalled.connect(lambda path: print(f"installed: {path}", flush=True))
    wizard.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
