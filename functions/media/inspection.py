"""What an uploaded file really is, from its first bytes: Pillow identifies the format (each of its
plugins checks the format's magic number, then parses the header) and reads the dimensions without
decoding a pixel.

Why Pillow alone, without ``filetype``/``puremagic``: a magic-number library says only which format
the first bytes claim; Pillow checks the same magic numbers (only for the four formats allowed here:
``formats=``), then parses the header, which a first-bytes check cannot (a PNG signature followed by
garbage passes it), and gives the dimensions that the decompression-bomb check needs. One well-kept
dependency instead of two.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

HEADER_BYTES = 256 * 1024
"""Bytes read for identification: PNG, GIF and WebP give their size in the first few dozen bytes; a
JPEG's frame header follows its APP segments (EXIF, ICC, XMP: at most 64 KiB each), so a little more."""
MAX_SIDE = 10_000
MAX_PIXELS = 40_000_000
"""Width x height above which an image is refused as a decompression bomb (a 40-megapixel RGBA image
decodes to 160 MB); Pillow's own guard (``Image.MAX_IMAGE_PIXELS``) is set to the same number."""

PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}


@dataclass(frozen=True)
class Verdict:
    """``reason`` is None for an acceptable file."""

    reason: str | None
    format: str | None = None
    width: int = 0
    height: int = 0

    @property
    def ok(self) -> bool:
        return self.reason is None


def inspect(
    head: bytes, *, declared_type: str, declared_size: int, actual_size: int, max_bytes: int
) -> Verdict:
    """Judge an upload from its first bytes and its stored size against what its owner declared."""
    if actual_size > max_bytes:
        return Verdict("too_large")
    if actual_size > declared_size:
        return Verdict("larger_than_declared")
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            # Above MAX_IMAGE_PIXELS Pillow warns, above twice that it raises: both are a bomb here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(head), formats=list(PILLOW_FORMATS.values())) as image:
                found, (width, height) = image.format, image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return Verdict("decompression_bomb")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        return Verdict("not_an_image")
    if found != PILLOW_FORMATS.get(declared_type):
        return Verdict("type_mismatch", found)
    if width < 1 or height < 1 or width > MAX_SIDE or height > MAX_SIDE:
        return Verdict("bad_dimensions", found, width, height)
    if width * height > MAX_PIXELS:
        return Verdict("decompression_bomb", found, width, height)
    return Verdict(None, found, width, height)
