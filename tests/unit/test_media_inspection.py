"""What an upload really is: type from its first bytes, dimensions, decompression bombs, sizes."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from functions.media.inspection import HEADER_BYTES, MAX_PIXELS, inspect
from functions.media.models import MAX_BYTES
from tests.support.media import bomb_png, image_bytes


def judge(
    data: bytes, declared: str, declared_size: int | None = None, actual_size: int | None = None
) -> str | None:
    verdict = inspect(
        data[:HEADER_BYTES],
        declared_type=declared,
        declared_size=declared_size if declared_size is not None else len(data),
        actual_size=actual_size if actual_size is not None else len(data),
        max_bytes=MAX_BYTES[declared],
    )
    return verdict.reason


@pytest.mark.parametrize("content_type", sorted(MAX_BYTES))
def test_a_real_image_of_the_declared_type_is_accepted_with_its_dimensions(content_type: str) -> None:
    data = image_bytes(content_type, (37, 21))

    verdict = inspect(
        data,
        declared_type=content_type,
        declared_size=len(data),
        actual_size=len(data),
        max_bytes=MAX_BYTES[content_type],
    )

    assert verdict.ok and (verdict.width, verdict.height) == (37, 21)


@pytest.mark.parametrize(
    ("actual", "declared"),
    [
        ("image/png", "image/jpeg"),
        ("image/jpeg", "image/png"),
        ("image/gif", "image/webp"),
        ("image/webp", "image/gif"),
    ],
)
def test_bytes_of_another_type_than_declared_are_a_mismatch(actual: str, declared: str) -> None:
    assert judge(image_bytes(actual), declared) == "type_mismatch"


@pytest.mark.parametrize(
    "data",
    [
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"GIF89a",  # a magic number and nothing after it
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # a PNG signature followed by garbage
        b"BM" + b"\x00" * 60,  # a BMP: a format Pillow knows, but not one allowed here
        b"",
    ],
)
def test_what_is_not_an_allowed_image_is_refused(data: bytes) -> None:
    assert judge(data, "image/png", declared_size=10, actual_size=10) == "not_an_image"


def test_a_header_claiming_ten_gigapixels_is_a_decompression_bomb() -> None:
    assert judge(bomb_png(), "image/png") == "decompression_bomb"


def test_just_above_the_pixel_limit_is_a_bomb_too() -> None:
    side = int(MAX_PIXELS**0.5) + 10  # under Pillow's hard error (2x), over its warning
    assert judge(bomb_png(side, side), "image/png") == "decompression_bomb"


def test_a_side_beyond_the_limit_is_refused() -> None:
    assert judge(bomb_png(20_000, 10), "image/png") == "bad_dimensions"


def test_a_file_larger_than_declared_or_than_the_limit_is_refused() -> None:
    data = image_bytes()

    assert judge(data, "image/png", declared_size=len(data) - 1) == "larger_than_declared"
    assert (
        judge(data, "image/png", actual_size=MAX_BYTES["image/png"] + 1, declared_size=10**9) == "too_large"
    )


def test_only_the_header_is_needed_for_a_large_jpeg() -> None:
    buffer = io.BytesIO()
    Image.effect_noise((1200, 900), 80).convert("RGB").save(buffer, "JPEG", quality=95)
    data = buffer.getvalue()
    assert len(data) > HEADER_BYTES

    assert inspect(
        data[:HEADER_BYTES],
        declared_type="image/jpeg",
        declared_size=len(data),
        actual_size=len(data),
        max_bytes=MAX_BYTES["image/jpeg"],
    ).ok
