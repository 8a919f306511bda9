"""Copy files into and out of the backup storage, encrypted when a key is given.

PostgreSQL runs this file as its `archive_command` and `restore_command`, with the Python that runs
Patroni: it imports nothing from GardenOS (only the standard library, `cryptography` to encrypt, and
`boto3` for S3-compatible storage).

    python walcrypt.py archive SRC DEST [--key-file F]   # refuses to overwrite DEST with other content
    python walcrypt.py restore SRC DEST [--key-file F]   # exit 1 when SRC does not exist, 126 when
                                                         # it cannot be read (recovery stops)

With `--store FILE` (a JSON file: bucket, prefix, endpoint, region, keys) the archive's side is an
object name under the store's prefix in an S3-compatible bucket (DEST for `archive`, SRC for
`restore`) instead of a path.

Encrypted files are AES-256-GCM in 1 MiB chunks (the STREAM construction): a header with a random salt
and nonce prefix, then per chunk its length and ciphertext. Each chunk's nonce carries its index and
its associated data says whether it is the last one, so chunks cannot be reordered, dropped or the
file cut short without the decryption failing. The file key is HKDF-SHA256(key, salt).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import struct
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

MAGIC = b"GARDENOS-ENC1\n"
RESTORE_FAILED = 126
CHUNK = 1 << 20
_SALT = 16
_PREFIX = 7


class DecryptionError(Exception):
    """The file is not ours, was changed, or the key is not the one it was encrypted with."""


def is_encrypted(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(len(MAGIC)) == MAGIC


def _file_key(key: bytes, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"gardenos-backup").derive(key)


def _nonce(prefix: bytes, index: int, last: bool) -> tuple[bytes, bytes]:
    return prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00"), b"last" if last else b"more"


def _chunks(src: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """Chunks of `src` with a flag on the last one (an empty file is one empty last chunk)."""
    current = src.read(CHUNK)
    while True:
        following = src.read(CHUNK) if len(current) == CHUNK else b""
        yield current, not following
        if not following:
            return
        current = following


def encrypt_stream(src: BinaryIO, dst: BinaryIO, key: bytes) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt, prefix = secrets.token_bytes(_SALT), secrets.token_bytes(_PREFIX)
    aead = AESGCM(_file_key(key, salt))
    dst.write(MAGIC + salt + prefix)
    for index, (chunk, last) in enumerate(_chunks(src)):
        nonce, aad = _nonce(prefix, index, last)
        sealed = aead.encrypt(nonce, chunk, aad)
        dst.write(struct.pack(">I", len(sealed)) + sealed)


def decrypt_stream(src: BinaryIO, dst: BinaryIO, key: bytes) -> None:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if src.read(len(MAGIC)) != MAGIC:
        raise DecryptionError("not an encrypted GardenOS backup file")
    salt, prefix = src.read(_SALT), src.read(_PREFIX)
    aead = AESGCM(_file_key(key, salt))
    index = 0
    header = src.read(4)
    while True:
        if len(header) != 4:
            raise DecryptionError("the file is cut short")
        (size,) = struct.unpack(">I", header)
        sealed = src.read(size)
        header = src.read(4)
        last = not header
        nonce, aad = _nonce(prefix, index, last)
        try:
            dst.write(aead.decrypt(nonce, sealed, aad))
        except InvalidTag as exc:
            raise DecryptionError("wrong key, or the file was changed or cut short") from exc
        if last:
            return
        index += 1


def read_key(path: Path | None) -> bytes | None:
    if path is None:
        return None
    key = path.read_bytes().strip()
    return key or None


def _write_atomically(dest: Path, src: Path, key: bytes | None, *, decrypt: bool) -> None:
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    try:
        with src.open("rb") as fin, tmp.open("wb") as fout:
            if key is not None and not decrypt:
                encrypt_stream(fin, fout, key)
            elif decrypt and is_encrypted(src):
                if key is None:
                    raise DecryptionError(f"{src} is encrypted: set GARDENOS_BACKUP_ENCRYPTION_KEY")
                decrypt_stream(fin, fout, key)
            else:
                while block := fin.read(CHUNK):
                    fout.write(block)
            fout.flush()
            # An archived file must survive a crash; a restored one need not (recovery fetches it
            # again after a crash), and flushing 16 MiB for each segment only makes recovery wait.
            if not decrypt:
                os.fsync(fout.fileno())
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    if decrypt:
        return
    dir_fd = os.open(dest.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def plaintext_digest(path: Path, key: bytes | None) -> str:
    """SHA-256 of the file's content, decrypted when it is encrypted."""
    digest = hashlib.sha256()

    class _Sink:
        def write(self, data: bytes) -> int:
            digest.update(data)
            return len(data)

    with path.open("rb") as f:
        if is_encrypted(path):
            if key is None:
                raise DecryptionError(f"{path} is encrypted and no key is set")
            decrypt_stream(f, _Sink(), key)  # type: ignore[arg-type]
        else:
            while block := f.read(CHUNK):
                digest.update(block)
    return digest.hexdigest()


def archive(src: Path, dest: Path, key: bytes | None) -> None:
    """Copy a WAL file into the archive. An archived file is never replaced by other content
    (PostgreSQL's rule for archive commands); the same content again succeeds."""
    if dest.exists():
        if plaintext_digest(dest, key) == plaintext_digest(src, None):
            return
        raise FileExistsError(f"{dest} is already archived with different content")
    _write_atomically(dest, src, key, decrypt=False)


def restore(src: Path, dest: Path, key: bytes | None) -> None:
    _write_atomically(dest, src, key, decrypt=True)


class StoreError(OSError):
    """The S3-compatible storage refused or could not be reached."""


def s3_client(config: dict[str, Any], connections: int = 10) -> Any:
    """boto3's S3 client for a store's `endpoint`, `region` and keys (unset: boto3's usual sources). Also
    storage's S3 backend's, so both talk to S3-compatible servers alike; `connections` bounds its pool."""
    import boto3
    from botocore.config import Config

    endpoint = config.get("endpoint") or None
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=config.get("region") or None,
        aws_access_key_id=config.get("access_key_id") or None,
        aws_secret_access_key=config.get("secret_access_key") or None,
        config=Config(
            # Path-style requests: what MinIO, Ceph and other S3-compatible servers expect.
            s3={"addressing_style": "path" if endpoint else "auto"},
            retries={"max_attempts": 4, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            max_pool_connections=connections,
        ),
    )


class S3Store:
    """Objects under a prefix of a bucket in S3-compatible storage (boto3's client)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.bucket = str(config["bucket"])
        self.prefix = str(config.get("prefix") or "").strip("/")
        self.client = s3_client(config)

    @classmethod
    def from_file(cls, path: Path) -> S3Store:
        return cls(json.loads(path.read_text()))

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def url(self, name: str = "") -> str:
        return f"s3://{self.bucket}/{self.key(name)}"

    def exists(self, name: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._call(self.client.head_object, Bucket=self.bucket, Key=self.key(name))
        except StoreError as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and cause.response.get("Error", {}).get("Code") in (
                "404",
                "NoSuchKey",
                "NotFound",
            ):
                return False
            raise
        return True

    def upload(self, path: Path, name: str) -> None:
        self._call(self.client.upload_file, str(path), self.bucket, self.key(name))

    def download(self, name: str, path: Path) -> None:
        self._call(self.client.download_file, self.bucket, self.key(name), str(path))

    def read(self, name: str) -> bytes:
        body = self._call(self.client.get_object, Bucket=self.bucket, Key=self.key(name))["Body"]
        return bytes(body.read())

    def names(self, under: str) -> list[str]:
        """Every object name (relative to the prefix) that starts with `under`."""
        start = self.key(under)
        found: list[str] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start)
        for page in self._call(list, pages):
            for item in page.get("Contents", []):
                found.append(item["Key"][len(self.prefix) + 1 :] if self.prefix else item["Key"])
        return found

    def delete(self, names: list[str]) -> None:
        """Delete objects by name (relative to the prefix); a missing one is no error."""
        for start in range(0, len(names), 1000):  # DeleteObjects takes at most 1000 keys
            batch = [{"Key": self.key(name)} for name in names[start : start + 1000]]
            answer = self._call(
                self.client.delete_objects, Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
            )
            if errors := answer.get("Errors"):
                first = errors[0]
                raise StoreError(
                    f"S3 ({self.url()}): could not delete {len(errors)} objects, such as "
                    f"{first.get('Key')}: {first.get('Message') or first.get('Code')}"
                )

    def _call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return function(*args, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"S3 ({self.url()}): {exc}") from exc


def archive_to_store(src: Path, store: S3Store, name: str, key: bytes | None) -> None:
    """`archive` into the store: the same rule (never replace an object with other content)."""
    with tempfile.TemporaryDirectory(prefix="walcrypt-") as scratch:
        if store.exists(name):
            there = Path(scratch) / "archived"
            store.download(name, there)
            if plaintext_digest(there, key) == plaintext_digest(src, None):
                return
            raise FileExistsError(f"{store.url(name)} is already archived with different content")
        if key is None:
            store.upload(src, name)
            return
        sealed = Path(scratch) / "sealed"
        with src.open("rb") as fin, sealed.open("wb") as fout:
            encrypt_stream(fin, fout, key)
        store.upload(sealed, name)


def restore_from_store(store: S3Store, name: str, dest: Path, key: bytes | None) -> bool:
    """`restore` from the store; False when there is no such object (the end of the archive)."""
    if not store.exists(name):
        return False
    with tempfile.TemporaryDirectory(prefix="walcrypt-") as scratch:
        fetched = Path(scratch) / "fetched"
        store.download(name, fetched)
        restore(fetched, dest, key)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="walcrypt", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["archive", "restore"])
    parser.add_argument("src")
    parser.add_argument("dest")
    parser.add_argument("--key-file", type=Path)
    parser.add_argument("--store", type=Path, help="a JSON file describing S3-compatible storage")
    args = parser.parse_args(argv)
    key = read_key(args.key_file)
    try:
        if args.store is not None:
            store = S3Store.from_file(args.store)
            if args.action == "archive":
                archive_to_store(Path(args.src), store, args.dest, key)
            elif not restore_from_store(store, args.src, Path(args.dest), key):
                return 1  # the end of the archive: recovery asks for files until one is missing
            return 0
        src, dest = Path(args.src), Path(args.dest)
        if args.action == "restore" and not src.exists():
            return 1
        (archive if args.action == "archive" else restore)(src, dest, key)
    except (OSError, DecryptionError) as exc:
        print(f"walcrypt {args.action}: {exc}", file=sys.stderr)
        # A restore that failed for another reason than a missing file must stop the recovery, not
        # end it early as if the archive ended here: PostgreSQL aborts on an exit status above 125.
        return RESTORE_FAILED if args.action == "restore" else 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
