"""Image transformations as Supabase Storage's `render/image` makes them (imgproxy there, Pillow here):
the options a client sends, checked, and the transformation itself, a plain function for a worker thread.

Geometry follows imgproxy as Supabase configures it: `cover` (the default) scales to cover the box and
crops the middle, `contain` scales to fit inside it, `fill` stretches to exactly the box. `cover` and
`contain` never enlarge (imgproxy's default); one side alone keeps the aspect ratio. The EXIF orientation
is applied and metadata is dropped, so a photo's GPS position never leaves in a thumbnail.

A hostile image cannot take more than its limits: the formats decoded are few (no Pillow plugin beyond
them is ever tried), and the pixels to decode are counted from the header before one is decoded. JPEGs
are decoded already scaled down (`draft`) when the output is smaller, so a large photo's thumbnail stays
within the bound. Memory: about 4 bytes a decoded pixel, 8 with transparency (Pillow resizes RGBA
premultiplied, in a copy).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image, ImageOps, UnidentifiedImageError, features

from gardenos.storage.errors import ImageNotTransformable, InvalidTransform

Resize = Literal["cover", "contain", "fill"]
# The formats a client may ask for: `origin` keeps the source's, unset picks WebP when the client
# accepts it (Supabase's automatic optimisation), else the source's.
Format = Literal["origin", "webp", "avif"]
RESIZES: tuple[Resize, ...] = ("cover", "contain", "fill")
FORMATS: tuple[Format, ...] = ("origin", "webp", "avif")
DEFAULT_QUALITY = 80
QUALITY_RANGE = (20, 100)
# The query parameters (and `transform` keys) that are transformation options.
OPTION_NAMES = ("width", "height", "resize", "quality", "format")
AVIF = features.check("avif") is True
# Pillow format id → the extension and MIME subtype of its output.
SUBTYPES = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "AVIF": "avif"}
DECODED = tuple(name for name in SUBTYPES if name != "AVIF" or AVIF)


@dataclass(frozen=True)
class Limits:
    max_source_bytes: int
    max_pixels: int
    max_dimension: int


@dataclass(frozen=True)
class TransformOptions:
    width: int | None = None
    height: int | None = None
    resize: Resize = "cover"
    quality: int = DEFAULT_QUALITY
    format: Format | None = None

    def canonical(self) -> str:
        """One spelling of these options (what a signed URL's token carries)."""
        return ",".join(
            f"{name}:{value}"
            for name, value in (
                ("width", self.width or 0),
                ("height", self.height or 0),
                ("resize", self.resize),
                ("quality", self.quality),
                ("format", self.format or ""),
            )
        )

    @classmethod
    def from_canonical(cls, text: str) -> TransformOptions:
        return parse_options(dict(part.split(":", 1) for part in text.split(",") if ":" in part))

    def output(self, accept: str | None) -> Format:
        """The format asked for, with an unset one settled by the client's `Accept` (as imgproxy's WebP
        detection does: `image/webp` named, not `*/*`)."""
        if self.format is not None:
            return self.format
        return "webp" if "image/webp" in (accept or "").lower() else "origin"

    def digest(self, output: Format) -> str:
        """What tells this transformation from another of the same object: its cache entry and ETag."""
        return hashlib.sha256(f"{self.canonical()};{output}".encode()).hexdigest()[:32]


def has_options(values: Mapping[str, Any]) -> bool:
    return any(values.get(name) not in (None, "") for name in OPTION_NAMES)


def parse_options(values: Mapping[str, Any]) -> TransformOptions:
    """Options from a query string or a `transform` object (numbers as text or as numbers); InvalidTransform
    with what to change. 0 or nothing for a side leaves it free, as Supabase does."""
    resize = str(values.get("resize") or "cover").lower()
    if resize not in RESIZES:
        raise InvalidTransform(f"resize must be one of {', '.join(RESIZES)}, not {resize!r}")
    fmt = str(values.get("format") or "").lower() or None
    if fmt is not None and fmt not in FORMATS:
        raise InvalidTransform(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt == "avif" and not AVIF:
        raise InvalidTransform("this server's Pillow has no AVIF encoder: ask for format webp or origin")
    quality = _whole(values.get("quality"), "quality")
    low, high = QUALITY_RANGE
    if quality is not None and not low <= quality <= high:
        raise InvalidTransform(f"quality must be between {low} and {high}, not {quality}")
    return TransformOptions(
        width=_whole(values.get("width"), "width") or None,
        height=_whole(values.get("height"), "height") or None,
        resize=resize,
        quality=quality or DEFAULT_QUALITY,
        format=fmt,
    )


def _whole(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise InvalidTransform(f"{name} must be a whole number, not {value!r}")
    try:
        number = int(str(int(value)) if isinstance(value, float) else str(value).strip())
    except ValueError:
        raise InvalidTransform(f"{name} must be a whole number, not {value!r}") from None
    if number < 0:
        raise InvalidTransform(f"{name} must not be negative")
    return number


@dataclass(frozen=True)
class Rendered:
    body: bytes
    subtype: str  # image/<subtype>: jpeg, png, webp, gif, avif


def transform(data: bytes, options: TransformOptions, output: Format, limits: Limits) -> Rendered:
    """The transformed image. Runs in a worker thread; every way an image can be refused is an
    ImageNotTransformable (a 400), never another exception."""
    try:
        with Image.open(io.BytesIO(data), formats=DECODED) as image:
            return _transform(image, options, output, limits)
    except UnidentifiedImageError:
        kinds = ", ".join(SUBTYPES[name].upper() for name in DECODED)
        raise ImageNotTransformable(
            f"The object is not an image that can be transformed: only {kinds} images are; "
            "download it without transform"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own guard (its MAX_IMAGE_PIXELS, left as it is) trips before ours for the largest.
        raise _too_many_pixels(None, limits) from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise ImageNotTransformable(
            f"The image is broken or truncated and cannot be transformed ({exc})"
        ) from None


def _transform(image: Image.Image, options: TransformOptions, output: Format, limits: Limits) -> Rendered:
    source = image.format or "PNG"
    box_w = min(options.width, limits.max_dimension) if options.width else None
    box_h = min(options.height, limits.max_dimension) if options.height else None
    if source == "JPEG" and (box_w or box_h):
        # Decode at 1/2, 1/4 or 1/8 scale when that still covers the box in both sides, whichever way
        # the EXIF orientation turns it: a 48 MP photo for a thumbnail costs a few MP of memory. Only
        # the decoder is set up here; `size` becomes what it will decode.
        side = max(box_w or 0, box_h or 0)
        image.draft("RGB", (side, side))
    # The pixels about to be decoded, counted before one is: the bound on each transformation's memory.
    width, height = image.size
    if width * height > limits.max_pixels:
        raise _too_many_pixels((width, height), limits)
    image.load()
    # In place, and converted only when the mode differs: each copy of a 50 MP image is 200 MB more.
    ImageOps.exif_transpose(image, in_place=True)
    alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    mode = "RGBA" if alpha else "RGB"
    frame = image if image.mode == mode else image.convert(mode)
    frame = _resize(frame, box_w, box_h, options.resize)
    target = SUBTYPES[source] if output == "origin" else output
    return Rendered(_encode(frame, target, options.quality), target)


def _resize(image: Image.Image, box_w: int | None, box_h: int | None, mode: Resize) -> Image.Image:
    width, height = image.size
    if box_w is None and box_h is None:
        return image
    if box_w is None or box_h is None:
        # One side: the other follows the aspect ratio, in every mode (`fill` may enlarge, as below).
        scale = box_w / width if box_w is not None else (box_h or height) / height
        if mode != "fill":
            scale = min(scale, 1.0)
        return _scaled(image, width * scale, height * scale)
    if mode == "fill":
        return _scaled(image, box_w, box_h)
    if mode == "contain":
        scale = min(box_w / width, box_h / height, 1.0)
        return _scaled(image, width * scale, height * scale)
    scale = min(max(box_w / width, box_h / height), 1.0)
    scaled = _scaled(image, width * scale, height * scale)
    crop_w, crop_h = min(box_w, scaled.width), min(box_h, scaled.height)
    left, top = (scaled.width - crop_w) // 2, (scaled.height - crop_h) // 2
    return scaled.crop((left, top, left + crop_w, top + crop_h))


def _scaled(image: Image.Image, width: float, height: float) -> Image.Image:
    size = (max(round(width), 1), max(round(height), 1))
    if size == image.size:
        return image
    # reducing_gap: a cheap box reduction first, then Lanczos on the rest; as sharp, far faster.
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _encode(image: Image.Image, subtype: str, quality: int) -> bytes:
    out = io.BytesIO()
    if subtype == "jpeg":
        if image.mode == "RGBA":
            flat = Image.new("RGB", image.size, (255, 255, 255))
            flat.paste(image, mask=image.getchannel("A"))
            image = flat
        image.save(out, "JPEG", quality=quality, optimize=True)
    elif subtype == "webp":
        image.save(out, "WEBP", quality=quality, method=4)
    elif subtype == "avif":
        image.save(out, "AVIF", quality=quality, speed=8)
    elif subtype == "gif":
        image.save(out, "GIF")
    else:
        image.save(out, "PNG", compress_level=6)
    return out.getvalue()


def _too_many_pixels(size: tuple[int, int] | None, limits: Limits) -> ImageNotTransformable:
    what = f"{size[0]}×{size[1]} pixels" if size else "its size"
    return ImageNotTransformable(
        f"The source image resolution is too large to process: {what} is over the "
        f"{limits.max_pixels:,} pixels allowed (GARDENOS_STORAGE_TRANSFORM_MAX_PIXELS); "
        "a JPEG may be asked for at a smaller width or height"
    )
