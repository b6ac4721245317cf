"""``curves.png``: training loss and validation PSNR/SSIM per epoch (as the original plotted)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.atomic import write_bytes_atomically


def write_curves(path: Path, history: Sequence[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(10, 3.6), dpi=100)
    ax_loss, ax_psnr, ax_ssim = fig.subplots(1, 3)
    ax_loss.plot(epochs, [h["loss"] for h in history], color="tab:blue")
    ax_loss.set_title("training loss (Charbonnier)")
    ax_psnr.plot(epochs, [h["val_psnr"] for h in history], color="tab:green", label="model")
    if history and history[0].get("input_psnr") is not None:
        ax_psnr.axhline(history[0]["input_psnr"], color="gray", linestyle="--", label="input")
    ax_psnr.set_title("validation PSNR (dB, full images)")
    ax_psnr.legend(loc="lower right")
    ax_ssim.plot(epochs, [h["val_ssim"] for h in history], color="tab:orange")
    ax_ssim.set_title("validation SSIM")
    for ax in (ax_loss, ax_psnr, ax_ssim):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_bytes_atomically(path, buf.getvalue())
