"""What kind of file a media URL points at, for the providers that must say so.

Bird needs each file's ``contentType`` (and sends images only as an ``image`` body),
Callbell a message ``type`` (image, audio, video, document) and Sociocs the field
(``image_url``, ``video_url``, ``file_url``). The URL's extension decides when it
names a known type. A URL without one (a CDN link such as ``…/o/abc?alt=media``)
would go out as a generic file, so the customer gets an attachment instead of a
picture; `content_type` asks such a URL with one ``HEAD`` through the provider's
own client instead: bounded by that client's timeout, without the client's
credentials, following at most `MAX_REDIRECTS` redirects and only to http(s) URLs.
"""

from __future__ import annotations

from mimetypes import MimeTypes
from pathlib import PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from providers.errors import ProviderRejectedError

MAX_REDIRECTS = 3
OCTET_STREAM = "application/octet-stream"
# The stdlib table only (not the host's mime.types), so the guess is the same everywhere;
# plus what it lacks and MMS/WhatsApp carry.
_MIME = MimeTypes()
_EXTRA_TYPES = {
    ".webp": "image/webp",
    ".m4a": "audio/mp4",
    ".amr": "audio/amr",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".3gp": "video/3gpp",  # the stdlib says audio/3gpp; MMS and WhatsApp mean video
    ".3gpp": "video/3gpp",
    ".m4v": "video/x-m4v",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# A server that refuses HEAD is asked with a GET whose body is never read.
_NO_HEAD = frozenset({405, 501})
# Whatever the server says, these name no kind of file.
_UNTYPED = frozenset({OCTET_STREAM, "binary/octet-stream", "application/unknown"})


def url_file(url: str) -> PurePosixPath:
    """The URL's path as a file name (percent-decoded), for suffixes and attachment names."""
    return PurePosixPath(unquote(urlsplit(url).path))


def guess_type(url: str) -> str | None:
    """The MIME type the URL's extension names, or None."""
    suffix = url_file(url).suffix.lower()
    if not suffix:
        return None
    guessed, _ = _MIME.guess_type("file" + suffix)
    return _EXTRA_TYPES.get(suffix) or guessed


async def content_type(client: httpx.AsyncClient, url: str, *, provider: str) -> str | None:
    """The URL's MIME type: from its extension, else from the server's ``Content-Type``.

    None when neither says (the caller sends it as a generic file). Raises
    `ProviderRejectedError` when the server says the file is not there (404, 410), which
    the provider would find too, after the customer was charged for an empty message.
    """
    guessed = guess_type(url)
    if guessed is not None:
        return guessed
    return await _ask(client, url, provider)


async def _ask(client: httpx.AsyncClient, url: str, provider: str) -> str | None:
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        if not _is_web_url(current):
            return None  # a redirect to file:, ftp: or the like is not followed
        try:
            response = await _head(client, current)
        except httpx.HTTPError:
            return None  # unreachable from here is not proof it is unreachable for the provider
        if response.status_code in _REDIRECTS and "location" in response.headers:
            current = urljoin(current, response.headers["location"])
            continue
        if response.status_code in (404, 410):
            raise ProviderRejectedError(
                f"the media URL answered HTTP {response.status_code} ({response.reason_phrase}): "
                "check that the link is right and public",
                provider=provider,
            )
        if not response.is_success:
            return None
        found = response.headers.get("content-type", "").split(";")[0].strip().lower()
        return found if "/" in found and found not in _UNTYPED else None
    return None


async def _head(client: httpx.AsyncClient, url: str) -> httpx.Response:
    # auth=None: the provider's client must never hand its credentials to a media host.
    response = await client.request("HEAD", url, auth=None, follow_redirects=False)
    if response.status_code not in _NO_HEAD:
        return response
    async with client.stream("GET", url, auth=None, follow_redirects=False) as streamed:
        return streamed  # headers only: the body is never read


def _is_web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
