"""A folder as a ZIP stream (a release, an Action Regions export): written while it is sent, so memory
holds one file at a time, however many files the folder has."""
from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

from django.http import StreamingHttpResponse

# Images are compressed already; the CSV and JSON files shrink a lot.
DEFLATED = {".csv", ".json", ".txt"}


class _Sink(io.RawIOBase):
    """A write-only stream that keeps what was written until it is taken (not seekable, so
    zipfile writes data descriptors instead of going back to patch headers)."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def folder_zip_stream(folder: Path) -> Iterator[bytes]:
    """The files under ``folder``, in name order, as the bytes of a ZIP archive whose entries start
    with the folder's own name."""
    folder = Path(folder)
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", allowZip64=True) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
            kind = zipfile.ZIP_DEFLATED if path.suffix.lower() in DEFLATED else zipfile.ZIP_STORED
            archive.write(path, arcname=str(Path(folder.name) / path.relative_to(folder)), compress_type=kind)
            yield sink.take()
    yield sink.take()


def zip_response(folder: Path, *, filename: str) -> StreamingHttpResponse:
    """``folder`` as a ZIP download, streamed while it is written (``folder_zip_stream``)."""
    response = StreamingHttpResponse(folder_zip_stream(folder), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
