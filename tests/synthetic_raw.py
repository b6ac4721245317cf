"""Tiny camera files made in the tests themselves: a minimal DNG from a Bayer array, HEIC via pillow-heif.

``write_dng`` writes a real (uncompressed, 16-bit, RGGB) DNG that LibRaw decodes: IFD 0 holds
the CFA data, the camera's Make/Model/Orientation, the DNG colour tags and an EXIF IFD
(exposure time, f-number, ISO, date, lens). With ``preview_jpeg`` a reduced-resolution JPEG
preview is added in a SubIFD, as cameras and converters do.

``bayer_from_linear`` turns a linear-light sRGB picture into what such a camera would record
(white balance removed, mosaiced, optionally with shot and read noise, quantised to 12 bits).
The colour matrix makes the camera's RGB the linear sRGB primaries, so a decoded picture can be
compared with the picture it was made from.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

BYTE, ASCII, SHORT, LONG, RATIONAL, UNDEFINED, SRATIONAL = 1, 2, 3, 4, 5, 7, 10
_SIZES = {BYTE: 1, ASCII: 1, SHORT: 2, LONG: 4, RATIONAL: 8, UNDEFINED: 1, SRATIONAL: 8}
_FORMATS = {BYTE: "B", SHORT: "H", LONG: "I"}

#: XYZ (D65) -> linear sRGB: as DNG ColorMatrix1 it makes the camera's native space linear sRGB.
XYZ_TO_SRGB = np.array([[3.2404542, -1.5371385, -0.4985314],
                        [-0.9692660, 1.8760108, 0.0415560],
                        [0.0556434, -0.2040259, 1.0572252]])
#: As-shot white balance of the synthetic camera (R and B gains relative to G).
WB_GAINS = (2.0, 1.0, 1.5)
BLACK, WHITE = 256, 4095


def _pack(kind: int, values: object) -> tuple[int, bytes]:
    """(count, little-endian payload) of a TIFF field."""
    if kind == ASCII:
        raw = values.encode("ascii") + b"\x00" if isinstance(values, str) else bytes(values)
        return len(raw), raw
    if kind == UNDEFINED:
        return len(values), bytes(values)
    seq = list(values) if isinstance(values, (list, tuple)) else [values]
    if kind in (RATIONAL, SRATIONAL):
        fmt = "<i" if kind == SRATIONAL else "<I"
        out = b""
        for value in seq:
            num, den = value if isinstance(value, tuple) else (int(round(value * 10000)), 10000)
            out += struct.pack(fmt, num) + struct.pack(fmt, den)
        return len(seq), out
    return len(seq), struct.pack("<" + _FORMATS[kind] * len(seq), *seq)


def _ifd(entries: dict[int, tuple[int, object]], offset: int, next_ifd: int = 0) -> bytes:
    """One IFD at file offset ``offset`` with its out-of-line values right after it."""
    tags = sorted(entries)
    table_size = 2 + 12 * len(tags) + 4
    extra = b""
    table = struct.pack("<H", len(tags))
    for tag in tags:
        kind, values = entries[tag]
        count, payload = _pack(kind, values)
        if len(payload) <= 4:
            field = payload.ljust(4, b"\x00")
        else:
            if (offset + table_size + len(extra)) % 2:
                extra += b"\x00"
            field = struct.pack("<I", offset + table_size + len(extra))
            extra += payload
        table += struct.pack("<HHI", tag, kind, count) + field
    return table + struct.pack("<I", next_ifd) + extra


def _layout(ifds: list[dict[int, tuple[int, object]]], start: int) -> list[int]:
    offsets, position = [], start
    for entries in ifds:
        offsets.append(position)
        position += len(_ifd(entries, position))
        position += position % 2
    return offsets + [position]


def write_dng(
    path: Path,
    cfa: np.ndarray,
    *,
    make: str = "Lowlight",
    model: str = "Test Camera",
    orientation: int = 1,
    exposure_time: tuple[int, int] = (1, 15),
    f_number: float = 2.8,
    iso: int = 3200,
    date: str = "2024:05:06 21:30:00",
    lens: str = "Test Lens 35mm F2.8",
    wb_gains: Sequence[float] = WB_GAINS,
    black: int = BLACK,
    white: int = WHITE,
    preview_jpeg: bytes | None = None,
    preview_size: tuple[int, int] | None = None,
) -> Path:
    """Write ``cfa`` (H x W uint16 RGGB mosaic, raw sensor values) as an uncompressed DNG."""
    height, width = cfa.shape
    strip = np.ascontiguousarray(cfa, dtype="<u2").tobytes()
    matrix = [(int(round(v * 10000)), 10000) for v in XYZ_TO_SRGB.ravel()]
    neutral = [(int(round(10000 / g)), 10000) for g in wb_gains]
    exif = {
        33434: (RATIONAL, [exposure_time]), 33437: (RATIONAL, [f_number]), 34855: (SHORT, [iso]),
        36864: (UNDEFINED, b"0231"), 36867: (ASCII, date), 37386: (RATIONAL, [35.0]), 42036: (ASCII, lens),
    }
    main = {
        254: (LONG, [0]), 256: (LONG, [width]), 257: (LONG, [height]), 258: (SHORT, [16]), 259: (SHORT, [1]),
        262: (SHORT, [32803]), 271: (ASCII, make), 272: (ASCII, model), 273: (LONG, [0]),
        274: (SHORT, [orientation]), 277: (SHORT, [1]), 278: (LONG, [height]), 279: (LONG, [len(strip)]),
        284: (SHORT, [1]), 306: (ASCII, date), 33421: (SHORT, [2, 2]), 33422: (BYTE, [0, 1, 1, 2]),
        34665: (LONG, [0]), 50706: (BYTE, [1, 4, 0, 0]), 50707: (BYTE, [1, 1, 0, 0]),
        50708: (ASCII, f"{make} {model}"), 50714: (LONG, [black]), 50717: (LONG, [white]),
        50721: (SRATIONAL, matrix), 50728: (RATIONAL, neutral), 50778: (SHORT, [21]),
    }
    ifds = [main, exif]
    if preview_jpeg is not None:
        pw, ph = preview_size or (width // 4, height // 4)
        main[330] = (LONG, [0])
        ifds.append({254: (LONG, [1]), 256: (LONG, [pw]), 257: (LONG, [ph]), 258: (SHORT, [8, 8, 8]),
                     259: (SHORT, [7]), 262: (SHORT, [6]), 273: (LONG, [0]), 277: (SHORT, [3]),
                     278: (LONG, [ph]), 279: (LONG, [len(preview_jpeg)])})
    # Two passes: the pointers only change values, never sizes.
    offsets = _layout(ifds, 8)
    data_start = offsets[-1]
    main[34665] = (LONG, [offsets[1]])
    main[273] = (LONG, [data_start])
    if preview_jpeg is not None:
        main[330] = (LONG, [offsets[2]])
        ifds[2][273] = (LONG, [data_start + len(strip)])
    out = bytearray(b"II*\x00" + struct.pack("<I", offsets[0]))
    for entries, offset in zip(ifds, offsets):
        out += _ifd(entries, offset)
        out += b"\x00" * (len(out) % 2)
    assert len(out) == data_start
    out += strip
    if preview_jpeg is not None:
        out += preview_jpeg
    Path(path).write_bytes(bytes(out))
    return Path(path)


def bayer_from_linear(linear: np.ndarray, *, rng: np.random.Generator | None = None, photons: float = 0.0,
                      read_noise: float = 0.0, wb_gains: Sequence[float] = WB_GAINS,
                      black: int = BLACK, white: int = WHITE) -> np.ndarray:
    """What the synthetic camera records for linear sRGB ``linear`` (H x W x 3, even H and W).

    The white balance is taken out (the DNG's AsShotNeutral puts it back), the picture is
    sampled in an RGGB mosaic, and with ``photons`` (electrons at full scale) and ``read_noise``
    (in 12-bit steps) Poisson and Gaussian noise are added before quantising.
    """
    h, w = linear.shape[:2]
    balanced = np.clip(linear, 0.0, 1.0) / np.asarray(wb_gains, dtype=np.float64)
    mosaic = np.empty((h, w), dtype=np.float64)
    mosaic[0::2, 0::2] = balanced[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = balanced[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = balanced[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = balanced[1::2, 1::2, 2]
    if photons > 0:
        rng = rng or np.random.default_rng(0)
        mosaic = rng.poisson(mosaic * photons) / photons
    values = black + mosaic * (white - black)
    if read_noise > 0:
        rng = rng or np.random.default_rng(0)
        values = values + rng.normal(0.0, read_noise, values.shape)
    return np.clip(np.round(values), 0, white).astype(np.uint16)


def smooth_scene(h: int, w: int) -> np.ndarray:
    """A linear-light test scene with gradients and colour (shows rotation, white balance, tone)."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    red = 0.05 + 0.6 * xs / max(1, w - 1)
    green = 0.05 + 0.5 * ys / max(1, h - 1)
    blue = np.full_like(xs, 0.25)
    return np.stack([red, green, blue], axis=2)


def jpeg_bytes(array: np.ndarray, quality: int = 90) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def write_heic(path: Path, array: np.ndarray, *, exif: bytes | None = None, icc: bytes | None = None,
               extra_images: int = 0, quality: int = 90) -> Path:
    """Encode ``array`` (H x W x 3 uint8, or uint16 for a 10-bit file) as HEIC with pillow-heif."""
    import pillow_heif

    mode = "RGB;16" if array.dtype == np.uint16 else "RGB"
    heif = pillow_heif.from_bytes(mode=mode, size=(array.shape[1], array.shape[0]),
                                  data=np.ascontiguousarray(array).tobytes())
    for _ in range(extra_images):
        heif.add_frombytes(mode, (array.shape[1], array.shape[0]), np.ascontiguousarray(array[::-1]).tobytes())
    options: dict[str, object] = {"quality": quality}
    if exif:
        options["exif"] = exif
    if icc:
        options["icc_profile"] = icc
    heif.save(path, format="HEIF", **options)
    return Path(path)
