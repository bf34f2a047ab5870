"""Reading a dump within bounds: sizes, lines, decompression, file rejects.

`DecompressionGuard` counts what a decompressor takes in and gives out and
raises on a bomb; `read_bounded` and `numbered_lines` never read more than a
record may hold; `file_reject` is the reject of a whole file. The format
readers (`dump_formats`, `jsonl`, `warc`) share them.
"""
from __future__ import annotations

import io
from typing import IO, Callable, Iterator, Optional, Tuple, Union

from schemas.records import Duplicate, RawDocument, Reject
from transforms.sources.decompression import DecompressionBomb, decompression_refusal
from schemas.contexts import ReadContext, Skipped


STAGE = "read"


Record = Union[RawDocument, Reject, Duplicate, Skipped]


class InputTooLarge(ValueError):
    pass


class DecompressionGuard:
    """Counts what a decompressor reads and writes; raises on a bomb.

    `compressed` wraps the raw file (every byte the decompressor takes in);
    `decompressed` wraps what it gives out. WARC files are decompressed by
    warcio itself, which reports its output through `output_count`.
    """

    def __init__(self, ctx: ReadContext, output_count: Optional[Callable[[], int]] = None):
        self._ratio = ctx.max_decompression_ratio
        self._limit = ctx.max_decompressed_bytes
        self._output_count = output_count
        self.read_in = 0
        self.given_out = 0

    def check(self) -> None:
        out = self._output_count() if self._output_count is not None else self.given_out
        refusal = decompression_refusal(self.read_in, out, self._ratio, self._limit)
        if refusal is not None:
            raise DecompressionBomb(refusal)

    def compressed(self, raw: IO[bytes]) -> "CountedStream":
        return CountedStream(raw, self, "read_in")

    def decompressed(self, stream: IO[bytes]) -> "CountedStream":
        return CountedStream(stream, self, "given_out")


class CountedStream(io.RawIOBase):
    """A read-only stream that counts its bytes into a `DecompressionGuard` and checks it."""

    def __init__(self, inner: IO[bytes], guard: DecompressionGuard, field: str):
        super().__init__()
        self._inner = inner
        self._guard = guard
        self._field = field

    def readable(self) -> bool:
        return True

    def _count(self, data: bytes) -> bytes:
        setattr(self._guard, self._field, getattr(self._guard, self._field) + len(data))
        self._guard.check()
        return data

    def read(self, size: int = -1) -> bytes:
        return self._count(self._inner.read(size))

    def readline(self, size: int = -1) -> bytes:
        return self._count(self._inner.readline(size))

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def tell(self) -> int:
        return self._inner.tell()


def file_reject(ctx: ReadContext, reason: str, message: str, name: str,
                 position: str = "byte:0", kind: str = "file") -> Reject:
    return Reject(doc_id=None, stage=STAGE, reason=reason, message=message, url=None,
                  source_kind=kind, source_uri=name, source_position=position, run_id=ctx.run_id,
                  ingested_at=ctx.ingested_at)


def read_bounded(stream: IO[bytes], limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputTooLarge(f"over the limit of {limit} bytes")
    return data


def numbered_lines(stream: IO[bytes], limit: int) -> Iterator[Tuple[int, Optional[bytes]]]:
    """Numbered lines; a line over `limit` bytes comes as None and is skipped over."""
    number = 0
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = stream.readline(1 << 20)
            yield number, None
            continue
        yield number, line
