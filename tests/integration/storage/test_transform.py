"""Image transformations (`/storage/v1/render/image`) through storage3, unchanged, and plain HTTP: sizes and
formats, the three doors (a member's token, a public bucket, a signed URL that carries its
transformation), the cache and its invalidation, and images that must be refused."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import httpx
import psycopg
import pytest
from PIL import Image
from supabase import StorageException, SupabaseStorageClient

from tests.integration.storage.conftest import storage_client
from tests.live import Api, Member
from tests.support import SessionDatabase

RED, GREEN = (200, 20, 20), (20, 200, 20)


def image_bytes(size: tuple[int, int], color: tuple[int, int, int], kind: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, kind)
    return out.getvalue()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int, height: int, *, whole: bool) -> bytes:
    """A 1-bit grayscale PNG of `width`×`height` pixels: `whole`, every row compressed (a few KB that
    decode to tens of millions of pixels); else a header with almost no data behind it."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)
    rows = height if whole else 1
    data = b"".join(packer.compress(row) for _ in range(rows)) + packer.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")
    )


@pytest.fixture
def client(api: Api, owner_a: Member) -> SupabaseStorageClient:
    return storage_client(api, owner_a)


@pytest.fixture
def photos(client: SupabaseStorageClient, bucket_name: str) -> SupabaseStorageClient:
    """A private bucket holding `garden.png`, 400×200 red, cached for 60 s by clients."""
    client.create_bucket(bucket_name)
    client.from_(bucket_name).upload(
        "garden.png", image_bytes((400, 200), RED), {"content-type": "image/png", "cache-control": "60"}
    )
    return client


def test_download_with_transform_through_storage3(photos: SupabaseStorageClient, bucket_name: str) -> None:
    files = photos.from_(bucket_name)
    cover = opened(files.download("garden.png", {"transform": {"width": 100, "height": 100}}))
    assert (cover.format, cover.size) == ("PNG", (100, 100))
    contain = opened(
        files.download("garden.png", {"transform": {"width": 100, "height": 100, "resize": "contain"}})
    )
    assert contain.size == (100, 50)
    fill = opened(files.download("garden.png", {"transform": {"width": 50, "height": 80, "resize": "fill"}}))
    assert fill.size == (50, 80)
    # Never enlarged (cover, contain): a side alone keeps the aspect ratio.
    assert opened(files.download("garden.png", {"transform": {"width": 4000}})).size == (400, 200)
    assert opened(files.download("garden.png", {"transform": {"height": 50}})).size == (100, 50)
    webp = opened(files.download("garden.png", {"transform": {"width": 80, "format": "avif", "quality": 50}}))
    assert (webp.format, webp.size) == ("AVIF", (80, 40))
    assert webp.getpixel((40, 20))[0] > 150  # still red


def test_headers_format_negotiation_and_conditional_requests(
    api: Api, owner_a: Member, photos: SupabaseStorageClient, bucket_name: str
) -> None:
    url = f"/storage/v1/render/image/authenticated/{bucket_name}/garden.png"
    with api.http(owner_a.access_token) as http:
        plain = http.get(url, params={"width": 40}, headers={"Accept": "*/*"})
        assert plain.status_code == 200, plain.text
        assert plain.headers["content-type"] == "image/png"
        assert plain.headers["cache-control"] == "max-age=60"
        assert plain.headers["vary"] == "Accept"
        assert "last-modified" in plain.headers
        # As Supabase: WebP for a client that accepts it (a browser's <img>), unless format=origin.
        browser = {"Accept": "image/avif,image/webp,image/apng,*/*;q=0.8"}
        webp = http.get(url, params={"width": 40}, headers=browser)
        assert webp.headers["content-type"] == "image/webp"
        assert opened(webp.content).format == "WEBP"
        assert webp.headers["etag"] != plain.headers["etag"]
        origin = http.get(url, params={"width": 40, "format": "origin"}, headers=browser)
        assert origin.headers["content-type"] == "image/png"
        assert "vary" not in origin.headers
        other_size = http.get(url, params={"width": 41})
        assert other_size.headers["etag"] not in (plain.headers["etag"], webp.headers["etag"])
        again = http.get(url, params={"width": 40}, headers={"If-None-Match": plain.headers["etag"]})
        assert (again.status_code, again.content) == (304, b"")
        named = http.get(url, params={"width": 40, "download": "thumb.png"})
        assert named.headers["content-disposition"] == "attachment; filename*=UTF-8''thumb.png"
        for params, problem in [
            ({"quality": 5}, "quality must be between 20 and 100"),
            ({"resize": "stretch"}, "resize must be one of cover, contain, fill"),
            ({"width": "wide"}, "width must be a whole number"),
            ({"format": "bmp"}, "format must be one of origin, webp, avif"),
        ]:
            refused = http.get(url, params=params)
            assert refused.status_code == 400, refused.text
            assert problem in refused.json()["message"]


def test_a_second_request_is_served_from_the_cache_until_the_object_changes(
    api: Api,
    owner_a: Member,
    photos: SupabaseStorageClient,
    bucket_name: str,
    database: SessionDatabase,
) -> None:
    url = f"/storage/v1/render/image/authenticated/{bucket_name}/garden.png"
    params = {"width": 60, "height": 60}
    with api.http(owner_a.access_token) as http:
        first = http.get(url, params=params)
        second = http.get(url, params=params)
        assert (first.headers["x-transform-cache"], second.headers["x-transform-cache"]) == ("miss", "hit")
        assert first.content == second.content
        assert first.headers["etag"] == second.headers["etag"]
        old_version = _version(api, owner_a, bucket_name, "garden.png")
        cached = _cache_root(database) / old_version
        assert any(cached.iterdir())

        photos.from_(bucket_name).upload(
            "garden.png", image_bytes((300, 300), GREEN), {"content-type": "image/png", "upsert": "true"}
        )
        replaced = http.get(url, params=params)
        assert replaced.headers["x-transform-cache"] == "miss"
        assert replaced.headers["etag"] != first.headers["etag"]
        assert opened(replaced.content).getpixel((30, 30))[:3] == GREEN
        assert not cached.exists(), "the replaced version's transformations stayed in the cache"
        assert http.get(url, params=params).headers["x-transform-cache"] == "hit"

        new_version = _version(api, owner_a, bucket_name, "garden.png")
        photos.from_(bucket_name).remove(["garden.png"])
        gone = http.get(url, params=params)
        assert gone.status_code == 404, gone.text
        assert not (_cache_root(database) / new_version).exists()


def test_signed_url_with_transform_serves_that_transformation_only(
    photos: SupabaseStorageClient, bucket_name: str
) -> None:
    files = photos.from_(bucket_name)
    files.upload("other.png", image_bytes((10, 10), GREEN), {"content-type": "image/png"})
    thumb = {"transform": {"width": 100, "height": 50}}
    signed = files.create_signed_url("garden.png", 60, thumb)["signedURL"]  # type: ignore[arg-type]
    assert "/storage/v1/render/image/sign/" in signed
    answer = httpx.get(signed)  # no apikey: the token is the capability
    assert answer.status_code == 200, answer.text
    assert opened(answer.content).size == (100, 50)
    assert "expires" in answer.headers
    token = httpx.URL(signed).params["token"]
    base = signed.split("/storage/v1/")[0] + "/storage/v1"

    # Not the original, not another size, not another object.
    original = httpx.get(f"{base}/object/sign/{bucket_name}/garden.png", params={"token": token})
    assert original.status_code == 400
    assert original.json()["error"] == "InvalidSignature"
    bigger = httpx.get(httpx.URL(signed).copy_merge_params({"width": 400}))
    assert bigger.status_code == 400
    assert "signed into the token" in bigger.json()["message"]
    other = httpx.get(f"{base}/render/image/sign/{bucket_name}/other.png", params={"token": token})
    assert (other.status_code, other.json()["error"]) == (400, "InvalidSignature")
    plain = files.create_signed_url("garden.png", 60)["signedURL"]
    plain_token = httpx.URL(plain).params["token"]
    as_render = httpx.get(f"{base}/render/image/sign/{bucket_name}/garden.png", params={"token": plain_token})
    assert as_render.status_code == 400
    with pytest.raises(StorageException) as bad:
        files.create_signed_url("garden.png", 60, {"transform": {"quality": 1}})  # type: ignore[typeddict-item]
    assert bad.value.status == "400"


def test_public_bucket_transform_and_a_private_one_refused(
    client: SupabaseStorageClient, bucket_name: str
) -> None:
    client.create_bucket(bucket_name, options={"public": True})
    files = client.from_(bucket_name)
    files.upload("sign.jpg", image_bytes((300, 150), RED, "JPEG"), {"content-type": "image/jpeg"})
    url = files.get_public_url("sign.jpg", {"transform": {"width": 30, "quality": 60}})
    assert "/render/image/public/" in url
    answer = httpx.get(url)  # no apikey, as an <img> tag
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/jpeg"
    assert opened(answer.content).size == (30, 15)

    private = f"{bucket_name}-private"
    client.create_bucket(private)
    client.from_(private).upload(
        "sign.jpg", image_bytes((30, 30), RED, "JPEG"), {"content-type": "image/jpeg"}
    )
    hidden = httpx.get(client.from_(private).get_public_url("sign.jpg", {"transform": {"width": 10}}))
    assert hidden.status_code == 404


def test_images_that_must_not_be_decoded_and_non_images_are_refused(
    api: Api, owner_a: Member, client: SupabaseStorageClient, bucket_name: str
) -> None:
    client.create_bucket(bucket_name)
    files = client.from_(bucket_name)
    # 6,000 × 6,000 = 36 million pixels in a few KB: over the 25 MP bound, under Pillow's own.
    files.upload("bomb.png", bomb_png(6000, 6000, whole=True), {"content-type": "image/png"})
    # A header claiming 10^10 pixels: Pillow's own guard trips first; the answer is the same.
    files.upload("huge.png", bomb_png(100_000, 100_000, whole=False), {"content-type": "image/png"})
    files.upload("notes.txt", b"not an image at all", {"content-type": "text/plain"})
    files.upload("fake.png", b"\x89PNG\r\n\x1a\n but broken", {"content-type": "image/png"})
    with api.http(owner_a.access_token) as http:
        for name, problem in [
            ("bomb.png", "6000×6000 pixels is over the 25,000,000 pixels allowed"),
            ("huge.png", "resolution is too large to process"),
            ("notes.txt", "not an image that can be transformed"),
            ("fake.png", "not an image that can be transformed"),
        ]:
            url = f"/storage/v1/render/image/authenticated/{bucket_name}/{name}"
            answer = http.get(url, params={"width": 10})
            assert answer.status_code == 400, (name, answer.text)
            assert problem in answer.json()["message"], (name, answer.text)
        # The objects themselves still download.
        assert http.get(f"/storage/v1/object/authenticated/{bucket_name}/notes.txt").status_code == 200
    with pytest.raises(StorageException) as refused:
        files.download("notes.txt", {"transform": {"width": 10}})
    assert refused.value.status == "400"


def test_another_agency_can_neither_transform_nor_sign(
    api: Api, owner_b: Member, photos: SupabaseStorageClient, bucket_name: str
) -> None:
    other = storage_client(api, owner_b)
    with pytest.raises(StorageException) as read:
        other.from_(bucket_name).download("garden.png", {"transform": {"width": 10}})
    assert read.value.status == "404"
    with pytest.raises(StorageException) as sign:
        other.from_(bucket_name).create_signed_url("garden.png", 60, {"transform": {"width": 10}})
    assert sign.value.status == "404"
    with api.http(owner_b.access_token) as http:
        answer = http.get(f"/storage/v1/render/image/public/{bucket_name}/garden.png", params={"width": 10})
        assert answer.status_code == 404
    with api.http() as anonymous:
        answer = anonymous.get(
            f"/storage/v1/render/image/authenticated/{bucket_name}/garden.png", params={"width": 10}
        )
        assert answer.status_code in (401, 403)


def _version(api: Api, member: Member, bucket: str, name: str) -> str:
    with psycopg.connect(api.owner_url) as conn:
        row = conn.execute(
            "SELECT version FROM storage.objects WHERE agency_id = %s AND bucket_id = %s AND name = %s",
            (member.agency_id, bucket, name),
        ).fetchone()
    assert row is not None
    return str(row[0])


def _cache_root(database: SessionDatabase) -> Path:
    return database.settings.storage_transform_cache_dir or database.settings.data_path / "storage-cache"
