"""Content-addressed blob store: raw messages and attachments, streamed to disk by SHA-256."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO, Protocol

import msgspec
import trio

# Big enough to amortise a thread hop per chunk, small enough that a 10 MB attachment never
# sits in memory whole.
CHUNK = 256 * 1024


class StoredBlob(msgspec.Struct, frozen=True):
    """A blob once it is durable: its digest and size."""

    sha256: str
    size: int


class BlobTooLarge(Exception):
    """The stream went past the size limit; nothing was kept."""


class BlobStore(Protocol):
    """Where raw messages and attachments live (a wrapper can add encryption at rest)."""

    async def put(self, chunks: AsyncIterable[bytes], *, limit: int | None = None) -> StoredBlob:
        """Store a stream durably (fsync'd) and return its digest; idempotent by content."""
        ...

    def open(self, sha256: str) -> AsyncGenerator[bytes, None]:
        """Stream a stored blob's content."""
        ...

    async def exists(self, sha256: str) -> bool:
        """True if the blob is stored."""
        ...


class FileBlobStore:
    """Blobs as files named by digest under two levels of fan-out directories."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._incoming = root / "incoming"

    def free_space(self) -> int:
        """Bytes free to an unprivileged writer on the file system the blobs are kept on."""
        self.root.mkdir(parents=True, exist_ok=True)
        return shutil.disk_usage(self.root).free

    def path(self, sha256: str) -> Path:
        """Where a blob of this digest lives."""
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def put(self, chunks: AsyncIterable[bytes], *, limit: int | None = None) -> StoredBlob:
        """Store a stream durably (fsync'd) and return its digest; idempotent by content."""
        await trio.to_thread.run_sync(lambda: self._incoming.mkdir(parents=True, exist_ok=True))
        temporary = self._incoming / secrets.token_hex(16)
        digest = hashlib.sha256()
        size = 0
        handle = await trio.to_thread.run_sync(temporary.open, "wb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if limit is not None and size > limit:
                    raise BlobTooLarge(f"more than {limit} bytes")
                digest.update(chunk)
                await trio.to_thread.run_sync(handle.write, chunk)
            await trio.to_thread.run_sync(_flush_and_sync, handle)
        except BaseException:
            handle.close()
            temporary.unlink(missing_ok=True)
            raise
        handle.close()
        stored = StoredBlob(digest.hexdigest(), size)
        await trio.to_thread.run_sync(self._publish, temporary, self.path(stored.sha256))
        return stored

    async def open(self, sha256: str) -> AsyncGenerator[bytes, None]:
        """Stream a stored blob's content."""
        handle = await trio.to_thread.run_sync(self.path(sha256).open, "rb")
        try:
            while chunk := await trio.to_thread.run_sync(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    async def exists(self, sha256: str) -> bool:
        """True if the blob is stored."""
        return await trio.to_thread.run_sync(self.path(sha256).exists)

    @staticmethod
    def _publish(temporary: Path, final: Path) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        # rename() is atomic: a reader sees the whole blob or none; the same content twice
        # simply replaces identical bytes.
        os.replace(temporary, final)
        directory = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself must survive a power cut
        finally:
            os.close(directory)


def _flush_and_sync(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


async def from_bytes(data: bytes) -> AsyncIterator[bytes]:
    """A chunk stream over bytes already in memory."""
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]
