"""Transformation options and the transformation itself (Pillow, no server): geometry as imgproxy
makes it for Supabase, orientation, metadata, and the pixel bound counted before decoding."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from gardenos.storage.errors import ImageNotTransformable, InvalidTransform
from gardenos.storage.images import Limits, TransformOptions, parse_options, transform

LIMITS = Limits(max_source_bytes=25 << 20, max_pixels=25_000_000, max_dimension=2500)


def _encoded(image: Image.Image, kind: str = "PNG", **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **params)
    return out.getvalue()


def _size(data: bytes, **options: object) -> tuple[int, int]:
    parsed = parse_options(options)
    return Image.open(io.BytesIO(transform(data, parsed, parsed.output(None), LIMITS).body)).size


@pytest.mark.parametrize(
    ("options", "size"),
    [
        ({"width": 100, "height": 100}, (100, 100)),  # cover: scaled to cover, the middle cropped
        ({"width": 100, "height": 100, "resize": "contain"}, (100, 50)),
        ({"width": 100, "height": 100, "resize": "fill"}, (100, 100)),
        ({"width": 100}, (100, 50)),
        ({"height": 50, "resize": "contain"}, (100, 50)),
        ({"width": 1000, "height": 1000}, (400, 200)),  # cover and contain never enlarge
        ({"width": 1000, "height": 1000, "resize": "contain"}, (400, 200)),
        ({"width": 800, "height": 100, "resize": "fill"}, (800, 100)),  # fill: exactly the box
        ({"width": 9000, "resize": "fill"}, (2500, 1250)),  # sides clamped to the maximum
        ({}, (400, 200)),
    ],
)
def test_geometry(options: dict[str, object], size: tuple[int, int]) -> None:
    assert _size(_encoded(Image.new("RGB", (400, 200), "red")), **options) == size


def test_the_exif_orientation_is_applied_and_metadata_dropped() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif[0x010F] = "Camera maker"
    photo = _encoded(Image.new("RGB", (200, 100), "blue"), "JPEG", exif=exif.tobytes())
    parsed = parse_options({"format": "origin"})
    out = Image.open(io.BytesIO(transform(photo, parsed, "origin", LIMITS).body))
    assert out.size == (100, 200)
    assert dict(out.getexif()) == {}


def test_a_jpeg_over_the_pixel_bound_is_decoded_scaled_down_for_a_thumbnail_only() -> None:
    big = _encoded(Image.new("RGB", (5200, 5000), "green"), "JPEG")  # 26 MP
    assert _size(big, width=400) == (400, 385)
    with pytest.raises(ImageNotTransformable, match="5200×5000 pixels is over the 25,000,000"):
        _size(big)


def test_alpha_is_kept_where_the_format_has_it_and_flattened_on_white_for_jpeg() -> None:
    clear = _encoded(Image.new("RGBA", (20, 20), (255, 0, 0, 0)))
    webp = transform(clear, parse_options({"format": "webp"}), "webp", LIMITS)
    assert Image.open(io.BytesIO(webp.body)).mode == "RGBA"
    jpeg = _encoded(Image.new("RGBA", (20, 20), (255, 0, 0, 0)).convert("RGB"), "JPEG")
    assert transform(jpeg, parse_options({}), "origin", LIMITS).subtype == "jpeg"


def test_options_have_one_spelling() -> None:
    given = {"width": "120", "height": 0, "resize": "Contain", "quality": 55, "format": "webp"}
    options = parse_options(given)
    assert options == TransformOptions(width=120, height=None, resize="contain", quality=55, format="webp")
    assert TransformOptions.from_canonical(options.canonical()) == options
    assert parse_options({"width": 120.0}) == parse_options({"width": "120"})
    assert options.output("image/avif,*/*") == "webp"
    assert parse_options({}).output("image/webp") == "webp"
    assert parse_options({}).output("*/*") == "origin"


@pytest.mark.parametrize(
    "options",
    [
        {"width": -1},
        {"height": "tall"},
        {"quality": 19},
        {"quality": 101},
        {"resize": "crop"},
        {"width": True},
        {"width": 1.5},
    ],
)
def test_bad_options_are_refused_with_what_to_change(options: dict[str, object]) -> None:
    with pytest.raises(InvalidTransform):
        parse_options(options)
