"""Downloads as sans-I/O flows: a video (or a thumbnail, a spritesheet) saved to a file through a
temporary part, resumed with a range request when the server allows it, its type, size and
speed checked on the way; a text answer in a video's place is refused."""

from __future__ import annotations

import glob
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from sora_client._exceptions import (
    ContentTypeError,
    GenerationFailedError,
    IncompleteDownloadError,
    ResponseTooLargeError,
    SoraError,
    UnexpectedResponseError,
    VideoNotReadyError,
    translate_transport_error,
)
from sora_client._exchanges import Exchanges
from sora_client._flow import Close, Flow, Now, Read, Sleep
from sora_client._models import Job

log = logging.getLogger("sora_client")

#: media types accepted as "the video" (a CDN may label it generically)
VIDEO_TYPES = ("video/", "application/octet-stream", "binary/octet-stream", "application/mp4")

#: media types accepted for the image variants (thumbnail, spritesheet)
IMAGE_TYPES = ("image/", "application/octet-stream", "binary/octet-stream")

#: file name suffix per variant when download() is given a directory
VARIANT_SUFFIX = {"video": ".mp4", "thumbnail": ".webp", "spritesheet": ".jpg"}

#: the first bytes of a body that is text, not a video (JSON, HTML, XML)
TEXT_STARTS = (b"{", b"[", b"<", b'"')

#: a download slower than this many bytes per ``timeout`` window is a stall (curl's
#: --speed-limit/--speed-time): a trickle cannot hold a download open for ever
MIN_DOWNLOAD_BYTES_PER_WINDOW = 16 * 1024


@dataclass
class _Partial:
    """A download in progress: its temp file and what is known of the representation."""

    path: Path
    written: int = 0
    total: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    #: bytes as sent (identity encoding): offsets are byte offsets, resumable
    raw: bool = True

    def resumable(self) -> bool:
        """A Range request can go on from here: bytes kept, raw, and a validator (an ETag or
        Last-Modified for If-Range, or at least the total length to compare)."""
        return (
            self.written > 0
            and self.raw
            and (self.etag is not None or self.last_modified is not None or self.total is not None)
        )

    def complete(self) -> bool:
        return self.total is None or self.written == self.total

    def restart(self) -> None:
        self.path.write_bytes(b"")
        self.written = 0
        self.total = self.etag = self.last_modified = None


def _ranged(request: httpx.Request, part: _Partial) -> httpx.Request:
    headers = httpx.Headers(request.headers)
    headers["Range"] = f"bytes={part.written}-"
    headers["Accept-Encoding"] = "identity"
    validator = part.etag or part.last_modified
    if validator is not None:
        headers["If-Range"] = validator
    return httpx.Request(request.method, request.url, headers=headers)


def _identity(request: httpx.Request) -> httpx.Request:
    """Media is asked for as sent: no coding to inflate, offsets that resume."""
    request.headers["Accept-Encoding"] = "identity"
    return request


def _remove_orphans(target: Path) -> None:
    """Remove partial files of ``target`` left by a process that died mid-download (its pid
    is in the name); a live process's partial file is left alone."""
    for orphan in target.parent.glob(f".{glob.escape(target.name)}.*.part"):
        pid = orphan.name[len(target.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            orphan.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _content_range(value: str | None) -> tuple[int, int, int | None] | None:
    """``bytes START-END/TOTAL`` (TOTAL may be ``*``) as numbers."""
    if not value:
        return None
    unit, _, spec = value.strip().partition(" ")
    span, _, total = spec.partition("/")
    first, _, last = span.partition("-")
    if unit.lower() != "bytes" or not first.isdigit() or not last.isdigit():
        return None
    if total != "*" and not total.isdigit():
        return None
    return int(first), int(last), (None if total == "*" else int(total))


def _strong_etag(value: str | None) -> str | None:
    """If-Range takes only a strong ETag (RFC 9110 13.1.5)."""
    if value is None or value.startswith("W/"):
        return None
    return value


def _safe_name(job_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in job_id) or "video"


def _umask() -> int:
    """The process umask (read by setting it, then putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


class Downloads(Exchanges):
    """Downloading a finished job's video and image variants to files."""

    def download(
        self, job: Job | str, path: str | os.PathLike[str], variant: str = "video"
    ) -> Flow[Path]:
        target = Path(path)
        job_id = job.id if isinstance(job, Job) else job
        if target.is_dir():
            target = target / f"{_safe_name(job_id)}{VARIANT_SUFFIX.get(variant, '')}"
        adapter = self.adapter
        if variant != "video":
            # only a content endpoint serves variants; the contract decides which exist
            request = adapter.build_content(job_id, variant)
            assert request is not None
            adapter.validate(request)
            return (yield from self._fetch_to_file(request, target, IMAGE_TYPES))
        if isinstance(job, str):
            by_id = adapter.build_content(job)
            if by_id is not None:
                adapter.validate(by_id)
                return (yield from self._fetch_to_file(by_id, target))
            job = yield from self.get(job)  # raises UnsupportedOperation in chat mode
        if job.failed:
            raise GenerationFailedError(job)
        if not job.completed and adapter.has_status:
            job = yield from self.get(job.id)
            if job.failed:
                raise GenerationFailedError(job)
        if not job.completed:
            raise VideoNotReadyError(
                f"{self.provider} job {job.id} is {job.status} ({job.progress:.0%}): "
                "wait() for it before downloading"
            )
        content = adapter.build_content(job.id)
        if content is not None:
            adapter.validate(content)
        elif job.video_url:
            content = adapter.build_video_url(job.video_url)
        else:
            raise UnexpectedResponseError(
                "the completed job names no video URL",
                provider=self.provider,
                status_code=200,
                body=job.raw,
            )
        return (yield from self._fetch_to_file(content, target))

    def _fetch_to_file(
        self, request: httpx.Request, target: Path, accepted: tuple[str, ...] = VIDEO_TYPES
    ) -> Flow[Path]:
        """Stream the video into a temp file beside ``target``, then move it in.

        A body that breaks off (or ends short of its length) is resumed where it stopped with
        ``Range: bytes=N-``, validated by ``If-Range`` (the ETag, else Last-Modified) and by
        the total length in ``Content-Range``: a server that answers 200, or a 206 of another
        representation, starts the file over. When every attempt ends short:
        IncompleteDownloadError, and ``target`` is left as it was."""
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_orphans(target)
        request = _identity(request)
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".part"
        )
        os.close(fd)
        part = _Partial(Path(tmp_name))
        moved = False
        attempt = 0
        try:
            while True:
                ranged = part.resumable()
                sent = _ranged(request, part) if ranged else request
                response, attempt = yield from self._send_read(sent, stream=True, attempt=attempt)
                error: SoraError | None = None
                if not (yield from self._accept_video(response, part, ranged, accepted)):
                    continue  # a 206 of another representation: start over at once
                try:
                    yield from self._append(response, part)
                except httpx.HTTPError as exc:
                    yield Close(response)
                    error = translate_transport_error(exc, self.provider)
                    error.__cause__ = exc
                if error is None and part.complete():
                    os.chmod(part.path, 0o666 & ~_umask())  # mkstemp made it 0600
                    os.replace(part.path, target)
                    moved = True
                    log.debug("saved %d bytes to %s", part.written, target)
                    return target
                short: SoraError = IncompleteDownloadError(
                    f"the video from {self.provider} ended after {part.written} of "
                    f"{part.total if part.total is not None else 'an unknown number of'} bytes"
                    + (f" ({error})" if error is not None else ""),
                    received=part.written,
                    expected=part.total,
                )
                if error is not None and part.total is None and not part.written:
                    short = error  # nothing came at all: the transport error says why
                if attempt >= self.policy.max_retries:
                    raise short from (error.__cause__ if error is not None else None)
                delay = self.policy.backoff(attempt)
                log.info(
                    "download from %s broke after %d bytes; %s in %.2f s",
                    self.provider,
                    part.written,
                    "resume" if part.resumable() else "retry",
                    delay,
                )
                yield Sleep(delay)
                attempt += 1
        finally:
            if not moved:
                part.path.unlink(missing_ok=True)

    def _accept_video(
        self,
        response: httpx.Response,
        part: _Partial,
        ranged: bool,
        accepted: tuple[str, ...] = VIDEO_TYPES,
    ) -> Flow[bool]:
        """Check the answer is the video (or the rest of it); raise when it is not. False:
        a 206 that does not continue the same representation (the file starts over)."""
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type and not media_type.startswith(accepted):
            content = yield from self._body(response, True)
            raise self._not_video(response, media_type, content)
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        identity = encoding in ("", "identity")
        self._check_size(response, identity)
        if response.status_code == 206 and ranged:
            span = _content_range(response.headers.get("content-range"))
            etag = response.headers.get("etag")
            same = (
                span is not None
                and identity
                and span[0] == part.written
                and (part.total is None or span[2] is None or span[2] == part.total)
                and (part.etag is None or etag is None or etag == part.etag)
            )
            if not same:
                yield Close(response)
                log.info("the resumed download of %s changed: starting over", self.provider)
                part.restart()
                return False
            part.raw = True
            if part.total is None:
                part.total = span[2] if span is not None else None
            return True
        # a whole body (200): from the start, whatever was kept
        part.restart()
        part.raw = identity
        length = response.headers.get("content-length")
        part.total = int(length) if identity and length and length.strip().isdigit() else None
        part.etag = _strong_etag(response.headers.get("etag"))
        part.last_modified = response.headers.get("last-modified")
        return True

    def _append(self, response: httpx.Response, part: _Partial) -> Flow[None]:
        """Write the body on at the end of ``part``; check it is a video, not text, and that it
        keeps coming (a stall below the minimum rate is a ReadTimeout)."""
        window = self.exchange_timeout
        window_start = yield Now()
        window_bytes = 0
        # only an unlabelled body is sniffed: a body labelled video/* is the video, whatever
        # its first byte (the contract allows any bytes)
        first = part.written == 0 and not response.headers.get("content-type", "").strip()
        with part.path.open("ab") as out:
            while True:
                chunk = yield Read(response, raw=part.raw)
                if not chunk:
                    break
                if first:
                    first = False
                    if chunk.lstrip()[:1] in TEXT_STARTS:
                        # no Content-Type said what this is, and it reads as text: a JSON job
                        # or an HTML page saved as .mp4 is the bug this refuses
                        rest = yield from self._body(response, True)
                        raise self._not_video(response, "an unlabelled text body", chunk + rest)
                if self.max_download is not None and part.written + len(chunk) > self.max_download:
                    yield Close(response)
                    raise self._too_large(f"it went on past {self.max_download} bytes")
                out.write(chunk)
                part.written += len(chunk)
                window_bytes += len(chunk)
                if window is not None:
                    now = yield Now()
                    if now - window_start >= window:
                        if window_bytes < MIN_DOWNLOAD_BYTES_PER_WINDOW:
                            raise httpx.ReadTimeout(
                                f"the download stalled: {window_bytes} bytes in {window:g} s"
                            )
                        window_start, window_bytes = now, 0
        yield Close(response)

    def _check_size(self, response: httpx.Response, identity: bool) -> None:
        """Refuse before reading a body whose stated length is over the download limit."""
        if self.max_download is None or not identity:
            return
        span = _content_range(response.headers.get("content-range"))
        length = response.headers.get("content-length", "").strip()
        total = span[2] if span is not None and response.status_code == 206 else None
        if total is None and response.status_code != 206 and length.isdigit():
            total = int(length)
        if total is not None and total > self.max_download:
            raise self._too_large(f"it announced {total} bytes")

    def _too_large(self, how: str) -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"the download from {self.provider} is larger than max_download_size "
            f"({self.max_download} bytes): {how}. No file was written; pass a larger "
            "max_download_size to the client to accept it",
            limit=self.max_download or 0,
        )

    def _not_video(self, response: httpx.Response, media_type: str, content: bytes) -> SoraError:
        try:
            body: Any = json.loads(content)
        except (ValueError, UnicodeDecodeError):
            body = content[:500].decode("utf-8", "replace")
        body = self.adapter.redact_value(body)
        state = ""
        if isinstance(body, dict):
            try:
                job = self.adapter.parse_job(body, response)
            except (SoraError, ValueError, KeyError, TypeError, AttributeError):
                job = None
            if job is not None and job.failed:
                return GenerationFailedError(job)
            if job is not None:
                state = f" (the job is {job.status}, {job.progress:.0%})"
        return ContentTypeError(
            f"{self.provider} answered {media_type} instead of the video{state}; "
            "it is probably not ready yet: wait() for the job, then download again. "
            "No file was written.",
            content_type=media_type,
            body=body,
        )
