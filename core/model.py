"""MIRNet written from the paper (Zamir et al., "Learning Enriched Features for Real
Image Restoration and Enhancement", ECCV 2020).

Structure: conv -> residual recurrent groups (RRG) -> conv, plus a global residual.
Each RRG holds multi-scale residual blocks (MRB). An MRB keeps parallel streams at full,
1/2 and 1/4 resolution, applies dual attention units (DAU: channel + spatial attention)
in every stream, exchanges information across the streams with selective kernel feature
fusion (SKFF: softmax over streams) and finally fuses all streams at full resolution.
Resolution changes use the paper's anti-aliased resizing modules.

One deliberate extension: the global average pooling in channel attention and SKFF can be
switched to a *local* mean over a window (``set_context_window``). The network is trained
on crops, where a global mean is a crop-sized mean; using a crop-sized window at inference
keeps train and test statistics alike (Chu et al., "Improving Image Restoration by
Revisiting Global Information Aggregation", ECCV 2022) and makes tiled inference agree with
whole-image inference, because every tile then sees the same statistics as the whole image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .auto_exposure import ExposureHead
from .config import MIRNetConfig
from .exposure import expose, gain_for, log_average_luminance, scale_chroma, shadow_fade


def is_global_window(window: int | None, height: int, width: int) -> bool:
    """Whether a ``window`` mean on a ``height`` x ``width`` map is the global mean everywhere."""
    return window is None or (window >= 2 * height and window >= 2 * width)


def local_mean(x: torch.Tensor, window: int | None) -> torch.Tensor:
    """Mean of ``x`` over a ``window`` x ``window`` neighbourhood, clipped at the borders.

    ``window=None`` (or a window covering the whole map) gives the global mean as a
    ``(N, C, 1, 1)`` tensor, which broadcasts like the paper's global average pooling.
    """
    n, c, h, w = x.shape
    if is_global_window(window, h, w):
        return x.mean(dim=(2, 3), keepdim=True)
    dtype = x.dtype
    xf = x.float()
    integral = F.pad(xf, (1, 0, 1, 0)).cumsum(dim=2).cumsum(dim=3)
    r = window // 2
    dev = x.device
    ys = torch.arange(h, device=dev)
    xs = torch.arange(w, device=dev)
    y0 = (ys - r).clamp(0, h)
    y1 = (ys - r + window).clamp(0, h)
    x0 = (xs - r).clamp(0, w)
    x1 = (xs - r + window).clamp(0, w)
    rows = integral.index_select(2, y1) - integral.index_select(2, y0)
    box = rows.index_select(3, x1) - rows.index_select(3, x0)
    count = (y1 - y0).view(1, 1, h, 1) * (x1 - x0).view(1, 1, 1, w)
    return (box / count.to(box.dtype)).to(dtype)


class ContextPool(nn.Module):
    """Global (paper) or windowed (inference-time) average pooling; see :func:`local_mean`."""

    def __init__(self) -> None:
        super().__init__()
        self.window: int | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return local_mean(x, self.window)

    def pool_then(self, x: torch.Tensor, squeeze: nn.Module) -> torch.Tensor:
        """``squeeze(pool(x))`` for a 1x1 convolution ``squeeze`` that reduces channels.

        A 1x1 convolution is affine per pixel and the windowed mean is a normalised sum, so the
        two commute. With a local window the mean is a full-resolution map: convolving first
        makes that (costly) mean run on the few squeezed channels instead of all of them.
        """
        if is_global_window(self.window, x.shape[-2], x.shape[-1]):
            return squeeze(self(x))
        return self(squeeze(x))


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation style channel attention."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.pool = ContextPool()
        self.squeeze = nn.Conv2d(channels, hidden, 1)
        self.act = nn.PReLU()
        self.excite = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.sigmoid(self.excite(self.act(self.pool.pool_then(x, self.squeeze))))
        return x * weights


class SpatialAttention(nn.Module):
    """Attention map from channel-wise max and mean, one value per pixel."""

    def __init__(self, kernel_size: int = 5) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(pooled))


class DualAttentionUnit(nn.Module):
    """DAU: conv-PReLU-conv, then channel and spatial attention in parallel, fused by 1x1 conv."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.PReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
        )
        self.channel_attention = ChannelAttention(channels, reduction)
        self.spatial_attention = SpatialAttention()
        self.fuse = nn.Conv2d(2 * channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.body(x)
        attended = torch.cat([self.channel_attention(features), self.spatial_attention(features)], dim=1)
        return x + self.fuse(attended)


class SelectiveKernelFusion(nn.Module):
    """SKFF: fuse same-shaped streams with per-channel softmax weights across the streams."""

    def __init__(self, channels: int, num_inputs: int, reduction: int) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.pool = ContextPool()
        self.squeeze = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.PReLU())
        self.select = nn.ModuleList(nn.Conv2d(hidden, channels, 1) for _ in range(num_inputs))

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        total = inputs[0] + inputs[1] if len(inputs) > 1 else inputs[0]
        for extra in inputs[2:]:
            total = total.add_(extra)
        descriptor = self.squeeze[1](self.pool.pool_then(total, self.squeeze[0]))
        # All selection convolutions as one, then a softmax across the streams on an
        # (N, H, W, streams, C) view: with a windowed pool the logits are full-resolution maps,
        # and stacking them along a new leading axis made softmax copy everything.
        k, c = len(self.select), inputs[0].shape[1]
        weight = torch.cat([select.weight for select in self.select])
        bias = torch.cat([select.bias for select in self.select])
        logits = F.conv2d(descriptor, weight, bias)
        n, _, h, w = logits.shape
        weights = torch.softmax(logits.permute(0, 2, 3, 1).reshape(n, h, w, k, c), dim=3)
        fused = inputs[0] * weights[:, :, :, 0].permute(0, 3, 1, 2)
        for i in range(1, k):
            fused = fused.addcmul_(inputs[i], weights[:, :, :, i].permute(0, 3, 1, 2))  # one pass, in place
        return fused


class BlurPool(nn.Module):
    """Anti-aliased stride-2 downsampling: fixed binomial [1,2,1]x[1,2,1] blur, then subsample."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0])
        kernel = (taps[:, None] * taps[None, :]) / 16.0
        self.register_buffer("kernel", kernel.expand(channels, 1, 3, 3).contiguous(), persistent=False)
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (1, 1, 1, 1), mode="replicate")
        return F.conv2d(x, self.kernel.to(x.dtype), stride=2, groups=self.channels)


class Downsample(nn.Module):
    """Paper's downsampling module: halves resolution, maps ``c_in`` to ``c_out`` channels."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(c_in, c_in, 1),
            nn.PReLU(),
            nn.Conv2d(c_in, c_in, 3, padding=1),
            nn.PReLU(),
            BlurPool(c_in),
            nn.Conv2d(c_in, c_out, 1, bias=False),
        )
        self.skip = nn.Sequential(BlurPool(c_in), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + self.skip(x)


class Upsample(nn.Module):
    """Paper's upsampling module: doubles resolution (bilinear), maps ``c_in`` to ``c_out``."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.main_pre = nn.Sequential(
            nn.Conv2d(c_in, c_in, 1),
            nn.PReLU(),
            nn.Conv2d(c_in, c_in, 3, padding=1),
            nn.PReLU(),
        )
        self.main_post = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.skip = nn.Conv2d(c_in, c_out, 1, bias=False)

    @staticmethod
    def _up(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Both 1x1 convolutions are bias-free per-pixel linear maps and bilinear resizing is a
        # per-channel linear map, so they commute: apply the convolutions at the low resolution
        # and resize once, on the (fewer) output channels. Same result as the paper's order
        # ``post(up(pre(x))) + skip(up(x))`` up to float rounding, at a quarter of the 1x1 cost.
        return self._up(self.main_post(self.main_pre(x)) + self.skip(x))


class Resample(nn.Sequential):
    """A chain of down- or upsampling modules that moves features from stream ``src`` to ``dst``."""

    def __init__(self, config: MIRNetConfig, src: int, dst: int) -> None:
        steps: list[nn.Module] = []
        if dst > src:
            for k in range(src, dst):
                steps.append(Downsample(config.stream_channels(k), config.stream_channels(k + 1)))
        else:
            for k in range(src, dst, -1):
                steps.append(Upsample(config.stream_channels(k), config.stream_channels(k - 1)))
        super().__init__(*steps)


class MultiScaleResidualBlock(nn.Module):
    """MRB: parallel multi-resolution streams with DAUs, cross-scale SKFF exchange, SKFF output."""

    def __init__(self, config: MIRNetConfig) -> None:
        super().__init__()
        s = config.num_streams
        ch = [config.stream_channels(k) for k in range(s)]
        r = config.reduction
        self.num_streams = s
        self.enter = nn.ModuleList(Resample(config, 0, k) for k in range(1, s))
        self.attend_first = nn.ModuleList(DualAttentionUnit(ch[k], r) for k in range(s))
        self.exchange = nn.ModuleList(
            nn.ModuleList(nn.Identity() if i == j else Resample(config, i, j) for i in range(s))
            for j in range(s)
        )
        self.exchange_fuse = nn.ModuleList(SelectiveKernelFusion(ch[j], s, r) for j in range(s))
        self.attend_second = nn.ModuleList(DualAttentionUnit(ch[k], r) for k in range(s))
        self.leave = nn.ModuleList(Resample(config, k, 0) for k in range(1, s))
        self.output_fuse = SelectiveKernelFusion(ch[0], s, r)
        self.out_conv = nn.Conv2d(ch[0], ch[0], 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        streams = [x] + [enter(x) for enter in self.enter]
        streams = [dau(t) for dau, t in zip(self.attend_first, streams)]
        exchanged = []
        for j in range(self.num_streams):
            gathered = [self.exchange[j][i](streams[i]) for i in range(self.num_streams)]
            exchanged.append(self.exchange_fuse[j](gathered))
        streams = [dau(t) for dau, t in zip(self.attend_second, exchanged)]
        at_full = [streams[0]] + [leave(t) for leave, t in zip(self.leave, streams[1:])]
        return x + self.out_conv(self.output_fuse(at_full))


class ResidualRecurrentGroup(nn.Module):
    """RRG: conv, a chain of MRBs, conv, with a residual connection around the group."""

    def __init__(self, config: MIRNetConfig) -> None:
        super().__init__()
        c = config.channels
        self.body = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1),
            *[MultiScaleResidualBlock(config) for _ in range(config.num_mrb)],
            nn.Conv2d(c, c, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class MIRNet(nn.Module):
    """The full network. Input and output: ``(N, 3, H, W)`` RGB in [0, 1]; any H, W."""

    def __init__(self, config: MIRNetConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        # With exposure normalisation the head sees the image and its normalised copy side by side.
        head_in = config.in_channels * (2 if config.exposure_key is not None else 1)
        self.head = nn.Conv2d(head_in, c, 3, padding=1)
        self.groups = nn.Sequential(*[ResidualRecurrentGroup(config) for _ in range(config.num_rrg)])
        self.tail = nn.Conv2d(c, config.out_channels, 3, padding=1)
        self.exposure_head = ExposureHead(config.auto_exposure_bins) if config.auto_exposure_bins else None

    def set_context_window(self, pixels: int | None) -> None:
        """Use a local ``pixels``-wide mean (at full resolution) instead of global pooling.

        Streams at 1/2^k resolution use ``pixels / 2^k``. ``None`` restores global pooling.
        """
        for module in self.modules():
            if isinstance(module, MultiScaleResidualBlock):
                self._set_block_window(module, pixels)

    @staticmethod
    def _set_block_window(block: MultiScaleResidualBlock, pixels: int | None) -> None:
        def scaled(k: int) -> int | None:
            return None if pixels is None else max(2, pixels // 2**k)

        for k in range(block.num_streams):
            block.attend_first[k].channel_attention.pool.window = scaled(k)
            block.attend_second[k].channel_attention.pool.window = scaled(k)
            block.exchange_fuse[k].pool.window = scaled(k)
        block.output_fuse.pool.window = scaled(0)

    @property
    def context_window(self) -> int | None:
        for module in self.modules():
            if isinstance(module, MultiScaleResidualBlock):
                return module.output_fuse.pool.window
        return None

    def exposure_gain(self, x: torch.Tensor) -> torch.Tensor | None:
        """Per-image automatic gain of the exposure normalisation for whole images ``x`` (None if
        unused): to the key the exposure head predicts for the content, else the fixed key.

        Tiled inference computes it once on the whole picture and passes it to every tile; the
        user's exposure (EV) multiplies it by ``2**EV``.
        """
        if self.config.exposure_key is None:
            return None
        key = self.exposure_head(x) if self.exposure_head is not None else self.config.exposure_key
        return gain_for(log_average_luminance(x), key)

    def forward(self, x: torch.Tensor, exposure_gain: torch.Tensor | None = None) -> torch.Tensor:
        """Enhance ``x``; ``exposure_gain`` (shape ``(N,)``) overrides the gain measured on ``x``."""
        h, w = x.shape[-2:]
        m = self.config.size_multiple
        pad_h, pad_w = (-h) % m, (-w) % m
        padded = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x
        if self.config.exposure_key is None:
            base, head_input = padded, padded
        else:
            gain = exposure_gain if exposure_gain is not None else self.exposure_gain(padded)
            base = expose(padded, gain.to(padded.device), self.config.highlight_knee,
                          hue=self.config.shoulder_hue)
            head_input = torch.cat([padded, base], dim=1)
        out = base + self.tail(self.groups(self.head(head_input)))
        gain = self.config.chroma_gain
        if self.config.shadow_chroma is not None:  # both colour steps in one pass to linear light
            out = scale_chroma(out, (gain or 1.0) * shadow_fade(padded, self.config.shadow_chroma))
        elif gain is not None and gain != 1.0:
            out = scale_chroma(out, gain)
        return out[..., :h, :w]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def estimate_gflops(model: nn.Module, height: int = 256, width: int = 256) -> float:
    """Multiply-adds x2 of every convolution for one ``height`` x ``width`` image, in GFLOP."""
    total = 0

    def hook(module: nn.Conv2d, _inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        k = module.kernel_size[0] * module.kernel_size[1]
        c_in = module.in_channels // module.groups
        total += 2 * c_in * k * output.shape[1] * output.shape[2] * output.shape[3]

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.inference_mode():
            model(torch.zeros(1, 3, height, width, device=next(model.parameters()).device))
    finally:
        for handle in handles:
            handle.remove()
    return total / 1e9
