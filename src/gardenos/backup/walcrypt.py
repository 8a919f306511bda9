"""Copy files into and out of the backup folder, encrypted when a key is given.

PostgreSQL runs this file as its `archive_command` and `restore_command`, with the Python that runs
Patroni: it imports nothing from GardenOS (only the standard library and, to encrypt, `cryptography`).

    python walcrypt.py archive SRC DEST [--key-file F]   # refuses to overwrite DEST with other content
    python walcrypt.py restore SRC DEST [--key-file F]   # exit 1 when SRC does not exist

Encrypted files are AES-256-GCM in 1 MiB chunks (the STREAM construction): a header with a random salt
and nonce prefix, then per chunk its length and ciphertext. Each chunk's nonce carries its index and
its associated data says whether it is the last one, so chunks cannot be reordered, dropped or the
file cut short without the decryption failing. The file key is HKDF-SHA256(key, salt).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

MAGIC = b"GARDENOS-ENC1\n"
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
            os.fsync(fout.fileno())
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="walcrypt", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["archive", "restore"])
    parser.add_argument("src", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--key-file", type=Path)
    args = parser.parse_args(argv)
    key = read_key(args.key_file)
    if args.action == "restore" and not args.src.exists():
        return 1  # the end of the archive: recovery asks for files until one is missing
    try:
        (archive if args.action == "archive" else restore)(args.src, args.dest, key)
    except (OSError, DecryptionError) as exc:
        print(f"walcrypt {args.action}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
