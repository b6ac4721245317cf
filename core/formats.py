"""Which image formats exist, by file name and by content ("sniffing").

The reader decides by the bytes, not the name: a ``.heic`` that is really a JPEG is read as
the JPEG it is (with a note), and a ``.tif`` that is really a DNG goes to the RAW decoder.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

#: RAW files LibRaw reads (lower case, with dot): DNG and the makers' own formats.
RAW_EXTENSIONS = frozenset({
    ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2",
    ".rwl", ".pef", ".srw", ".x3f", ".3fr", ".fff", ".iiq", ".erf", ".mef", ".mos", ".mrw", ".kdc",
    ".dcr", ".gpr",
})
#: HEIF stills (HEVC-coded HEIC and the generic HEIF names) and AVIF.
HEIF_EXTENSIONS = frozenset({".heic", ".heif", ".hif", ".avif"})
#: The other formats read through Pillow.
RASTER_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif"})

@dataclass(frozen=True)
class OutputFormat:
    """A format an enhanced photo can be saved in."""

    name: str  # the one name: CLI ``--format``, batch options, the app's settings
    label: str  # for people
    extensions: tuple[str, ...]  # the first is the one written; the others mean the same
    encoder: str  # core.io's encoder (its ``ImageData.format`` names)
    lossy: bool  # takes a quality setting
    deep: bool  # holds 16 bits per channel

    @property
    def extension(self) -> str:
        return self.extensions[0]


#: The output-format vocabulary, in the order menus show it.
OUTPUT_FORMATS: dict[str, OutputFormat] = {f.name: f for f in (
    OutputFormat("jpg", "JPEG", (".jpg", ".jpeg"), "JPEG", lossy=True, deep=False),
    OutputFormat("png", "PNG", (".png",), "PNG", lossy=False, deep=True),
    OutputFormat("tif", "TIFF", (".tif", ".tiff"), "TIFF", lossy=False, deep=True),
    OutputFormat("webp", "WebP", (".webp",), "WEBP", lossy=True, deep=False),
    OutputFormat("heic", "HEIC", (".heic", ".heif", ".hif"), "HEIF", lossy=True, deep=True),
)}
#: Other spellings accepted for a format name (older settings files said "jpeg" and "tiff").
_FORMAT_ALIASES = {"jpeg": "jpg", "tiff": "tif", "heif": "heic"}


def output_format(name: str) -> OutputFormat:
    """The output format called ``name`` (any case; ``jpeg``, ``tiff``, ``heif`` or an extension
    such as ``.jpeg`` also do); ``ValueError`` for others."""
    key = name.strip().lower().removeprefix(".")
    key = _FORMAT_ALIASES.get(key, key)
    if key in OUTPUT_FORMATS:
        return OUTPUT_FORMATS[key]
    for fmt in OUTPUT_FORMATS.values():
        if f".{key}" in fmt.extensions:
            return fmt
    raise ValueError(f"format must be one of {', '.join(OUTPUT_FORMATS)}, not {name!r}")


def output_format_of(path: str | Path) -> OutputFormat | None:
    """The output format a file name's extension asks for, or None."""
    suffix = Path(path).suffix.lower()
    return next((f for f in OUTPUT_FORMATS.values() if suffix in f.extensions), None)


#: What content a file name promises (for the "the name says X, the content is Y" note).
EXPECTED_KIND = {
    ".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP",
    ".bmp": "BMP", ".gif": "GIF", ".heic": "HEIF", ".heif": "HEIF", ".hif": "HEIF", ".avif": "AVIF",
    **{ext: "RAW" for ext in RAW_EXTENSIONS},
}
#: People-readable names of the kinds :func:`sniff` returns.
KIND_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "GIF": "GIF", "WEBP": "WebP", "BMP": "BMP", "TIFF": "TIFF",
              "HEIF": "HEIC/HEIF", "AVIF": "AVIF", "RAW": "camera RAW"}

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1",
                b"mif2", b"heif"}
_AVIF_BRANDS = {b"avif", b"avis"}
_RAW_BRANDS = {b"crx "}  # Canon CR3


def ftyp_brands(data: bytes) -> list[bytes]:
    """Major and compatible brands of an ISO base media file (HEIF, AVIF, CR3), else ``[]``."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return []
    size = struct.unpack(">I", data[:4])[0]
    end = min(len(data), size if size >= 16 else 16)
    brands = [data[8:12]]
    brands += [data[i:i + 4] for i in range(16, end - 3, 4)]
    return brands


def sniff(data: bytes) -> str | None:
    """The kind of image ``data`` holds, from its first bytes, or None when not recognised.

    One of "JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF" (which includes TIFF-based RAW such
    as DNG, NEF, CR2 and ARW: see :func:`tiff_is_raw`), "HEIF", "AVIF" or "RAW" (RAW formats
    with a signature of their own: CR3, RAF, ORF, RW2, CRW, X3F, MRW).
    """
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:2] == b"BM" and len(data) >= 26:
        return "BMP"
    if head[:4] in (b"IIRO", b"IIRS", b"MMOR", b"IIU\x00") or head.startswith(b"FUJIFILMCCD-RAW"):
        return "RAW"  # Olympus ORF, Panasonic RW2, Fujifilm RAF
    if head.startswith(b"II\x1a\x00\x00\x00HEAPCCDR") or head[:4] == b"FOVb" or head[:4] == b"\x00MRM":
        return "RAW"  # Canon CRW, Sigma X3F, Minolta MRW
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    brands = set(ftyp_brands(data))
    if brands & _RAW_BRANDS:
        return "RAW"
    if brands & _AVIF_BRANDS and not brands & (_HEIF_BRANDS - {b"mif1", b"msf1", b"mif2"}):
        return "AVIF"
    if brands & _HEIF_BRANDS:
        return "HEIF"
    return None


def tiff_is_raw(data: bytes) -> bool:
    """Whether TIFF-structured ``data`` is a DNG or holds colour-filter-array (sensor) data.

    Looks at IFD 0 and its SubIFDs only (cheap, no pixel data read): DNGVersion, or a
    PhotometricInterpretation of CFA (32803) or LinearRaw (34892).
    """
    walker = TiffWalker(data)
    for ifd in walker.ifds(max_count=8):
        if 50706 in ifd or ifd.get(262) in ((32803,), (34892,)):
            return True
    return False


class TiffWalker:
    """A minimal, bounds-checked reader of classic TIFF directories (tags and small values).

    Malformed offsets end the walk instead of raising: callers use it to diagnose a file
    and must cope with it saying little.
    """

    _TYPES = {1: ("B", 1), 2: ("B", 1), 3: ("H", 2), 4: ("I", 4), 6: ("b", 1), 7: ("B", 1), 8: ("h", 2),
              9: ("i", 4), 13: ("I", 4)}

    def __init__(self, data: bytes) -> None:
        self.data = data
        order = data[:2]
        self.endian = "<" if order == b"II" else ">"
        self.valid = order in (b"II", b"MM") and len(data) >= 8

    def _u32(self, offset: int) -> int | None:
        if offset < 0 or offset + 4 > len(self.data):
            return None
        return struct.unpack(self.endian + "I", self.data[offset:offset + 4])[0]

    def read_ifd(self, offset: int, max_values: int = 64) -> tuple[dict[int, tuple[int, ...]], int] | None:
        """Tags of the IFD at ``offset`` (numeric values up to ``max_values`` each) and the next IFD offset."""
        data, e = self.data, self.endian
        if not self.valid or offset < 8 or offset + 2 > len(data):
            return None
        count = struct.unpack(e + "H", data[offset:offset + 2])[0]
        end = offset + 2 + 12 * count
        if count == 0 or end + 4 > len(data):
            return None
        tags: dict[int, tuple[int, ...]] = {}
        for i in range(count):
            entry = offset + 2 + 12 * i
            tag, kind, n = struct.unpack(e + "HHI", data[entry:entry + 8])
            if kind not in self._TYPES:
                tags[tag] = ()
                continue
            code, size = self._TYPES[kind]
            n_read = min(n, max_values)
            where = entry + 8 if n * size <= 4 else self._u32(entry + 8)
            if where is None or where + n_read * size > len(data):
                tags[tag] = ()
                continue
            tags[tag] = struct.unpack(e + code * n_read, data[where:where + n_read * size])
        return tags, self._u32(end) or 0

    def ifds(self, max_count: int = 16) -> list[dict[int, tuple[int, ...]]]:
        """IFD 0, the IFDs chained after it and their SubIFDs (330), at most ``max_count``."""
        if not self.valid:
            return []
        first = self._u32(4)
        pending = [first] if first else []
        seen: set[int] = set()
        found: list[dict[int, tuple[int, ...]]] = []
        while pending and len(found) < max_count:
            offset = pending.pop(0)
            if offset in seen:
                continue
            seen.add(offset)
            parsed = self.read_ifd(offset)
            if parsed is None:
                continue
            tags, next_offset = parsed
            found.append(tags)
            pending.extend(sub for sub in tags.get(330, ()) if sub)
            if next_offset:
                pending.append(next_offset)
        return found

    def ascii(self, tag: int, ifd_index: int = 0) -> str:
        """An ASCII tag of IFD 0 (e.g. Make 271, Model 272) as text, "" when absent."""
        found = self.ifds(max_count=ifd_index + 1)
        if len(found) <= ifd_index:
            return ""
        raw = bytes(found[ifd_index].get(tag, ()))
        return raw.split(b"\x00", 1)[0].decode("latin-1", "replace").strip()
