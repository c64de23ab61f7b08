"""The ``capillary`` provider: Capillary's "Send communication message" API (sendMessage v1.1).

One ``POST {base_url}/v1.1/communications/sendMessage?channel=…`` carries a whole
batch, so several recipients on one channel go out in one request and come back
as one result each, in order (spec providers.md §1.3, §1.5). Capillary has no
delivery webhooks (§1.7) and its JSON answer shows no message id (§1.5), so
results normally carry ``provider_message_id=None``. An answer is read at both
levels: each item's ``errors``, and the batch's ``status`` block (``success``,
``successCount``), which may count failures no item names; recipients it leaves
in doubt get "may or may not have gone out", never a guess. Receipts come only by
asking: `lookup` reads the recipient's customer interactions (§1.7,
`providers.capillary_interactions`).

Connection keys; ``base_url``, the cluster host, is required (there is no default
cluster, §1.1), and exactly one credential pair must be given:

| key | meaning |
| --- | --- |
| ``username`` + ``password`` | Basic auth: till user name and password (sent md5-hashed, §1.2) |
| ``oauth_key`` + ``oauth_secret`` | OAuth client, exchanged for a short-lived token (§1.2) |
| ``sender`` | SMS only, optional: sender id configured for the OU (else the org default) |
| ``from`` | e-mail only, required: the sender's address |
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple

import httpx

from providers.base import (
    Channel,
    ConnectionConfig,
    OutboundMessage,
    Provider,
    Receipt,
    ReceiptSink,
    SendResult,
    SentRef,
    json_body,
    require_content,
)
from providers.capillary_answers import (
    code_hint,
    code_of,
    describe,
    errors_of,
    judge,
    unknown,
)
from providers.capillary_interactions import (
    INTERACTION_PATH,
    interaction_query,
    interaction_receipts,
)
from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderOutcomeUnknownError,
    ProviderRejectedError,
    ProviderUnavailableError,
    ProviderUnsupportedError,
)

SEND_PATH = "/v1.1/communications/sendMessage"
TOKEN_PATH = "/v3/oauth/token/generate"  # noqa: S105 - a URL path, not a secret
TOKEN_HEADER = "X-CAP-API-OAUTH-TOKEN"  # noqa: S105 - §1.2 "Name conflict": not CAP-API-ACCESS-TOKEN
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
DEFAULT_TOKEN_TTL = 300.0  # §1.2's example; used only if an answer leaves ttlSeconds out
TOKEN_MARGIN = 30.0  # renew this long before expiry, so a token does not die in flight
ISSUED_TOKENS_KEPT = 8
# Capillary documents no batch size (§1.8: UNKNOWN; only the code 1060 "Batch limit size
# exceeded", §1.5), so a batch goes in requests of at most this many items: the size of
# the largest documented batch among these providers (Bird's, §2.8). Each request is
# judged on its own; one refused with 1060 fails only its own items.
BATCH_SIZE = 100

BASIC_HINT = "Check username and password (the password is sent md5-hashed)"
OAUTH_HINT = "Check oauth_key and oauth_secret"
ACCESS_HINT = "The till or OAuth client needs WRITE access to the Communication access group"


class _Shape(NamedTuple):
    array: str  # request: root.<array> = [items]; each response entry echoes under the same key
    listing: str  # response: <listing> = [{<array>: echo, "errors": [...], "warnings": [...]}]


# §1.3/§1.5 and §1.9: for WhatsApp and Zalo the channel name, request key and response key differ.
SHAPES = {
    Channel.SMS: _Shape("sms", "smsList"),
    Channel.EMAIL: _Shape("email", "emails"),
    Channel.WHATSAPP: _Shape("whatsappMessage", "whatsapp"),
    Channel.ZALO: _Shape("zaloMessage", "zalo"),
}


def basic_authorization(username: str, password: str) -> str:
    """The ``Authorization`` value for Basic auth: base64(user + ":" + md5_hex(password)).

    §1.2: Capillary's own page prints a hash that is not md5 of its example
    password; the API checks the algorithm, not that printed value.
    """
    digest = hashlib.md5(password.encode(), usedforsecurity=False).hexdigest()
    return "Basic " + base64.b64encode(f"{username}:{digest}".encode()).decode()


class CapillaryProvider(Provider):
    name = "capillary"
    channels = frozenset(SHAPES)
    required_keys = ()
    optional_keys = ("username", "password", "oauth_key", "oauth_secret", "sender", "from")
    default_base_url = None
    secret_keys = ("password", "oauth_secret")
    batches = True  # several recipients in one sendMessage request (seed 000)
    batch_size = BATCH_SIZE
    supports_lookup = True
    lookup_needs_id = False  # found by recipient and time when the answer names no id

    def __init__(
        self,
        config: ConnectionConfig,
        client: httpx.AsyncClient,
        receipts: ReceiptSink,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(config, client, receipts)
        self.clock = clock  # injectable, so tests expire tokens without sleeping
        self._token: str | None = None
        # Tokens this connection was given lately: an answer may quote one after renewal.
        self._issued: deque[str] = deque(maxlen=ISSUED_TOKENS_KEPT)
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()

    @classmethod
    def check_config(cls, config: ConnectionConfig) -> None:
        super().check_config(config)
        problems = _config_problems(config)
        if problems:
            raise ProviderUnsupportedError("; ".join(problems), provider=cls.name)

    def secret_values(self) -> list[str]:
        # What Basic auth sends (the md5 of the password, and the header it makes) lets
        # anyone in as well as the password does; so does an OAuth token.
        derived = list(self._issued)
        username, password = _option(self.config, "username"), _option(self.config, "password")
        if password:
            header = basic_authorization(username, password)
            digest = hashlib.md5(password.encode(), usedforsecurity=False).hexdigest()
            derived += [header.removeprefix("Basic "), digest]
        return super().secret_values() + derived

    # -- sending ----------------------------------------------------------------

    async def send(self, message: OutboundMessage) -> SendResult:
        (outcome,) = await self.send_many([message])
        if isinstance(outcome, ProviderError):
            raise outcome
        return outcome

    async def send_many(
        self, messages: Sequence[OutboundMessage]
    ) -> list[SendResult | ProviderError]:
        """One request per channel and `BATCH_SIZE` messages; one outcome per message, in order."""
        outcomes: dict[int, SendResult | ProviderError] = {}
        groups: dict[Channel, list[tuple[int, dict[str, str]]]] = {}
        for index, message in enumerate(messages):
            try:
                item = self._item(message)
            except ProviderError as exc:
                outcomes[index] = exc
            else:
                groups.setdefault(message.channel, []).append((index, item))
        for channel, entries in groups.items():
            for start in range(0, len(entries), BATCH_SIZE):
                chunk = entries[start : start + BATCH_SIZE]
                results = await self._send_batch(channel, [item for _, item in chunk])
                for (index, _), result in zip(chunk, results, strict=True):
                    outcomes[index] = result
        return [outcomes[index] for index in range(len(messages))]

    def _item(self, message: OutboundMessage) -> dict[str, str]:
        """One entry of the ``root`` array; never ``scheduledTime``: Herald schedules itself."""
        channel = message.channel
        if channel not in SHAPES:
            raise ProviderUnsupportedError(f"cannot carry channel {channel!s}", provider=self.name)
        if message.media_urls:
            # §1.3: e-mail attachments go inline as base64; no field takes a media URL.
            raise ProviderUnsupportedError("cannot send media by URL", provider=self.name)
        if message.template is not None:
            # §1.3: WhatsApp/Zalo "template" is the message text, not a template reference.
            raise ProviderUnsupportedError("sends text, not provider templates", provider=self.name)
        require_content(message, self.name)  # §1.3: body / template is required
        if channel is Channel.EMAIL:
            sender = _option(self.config, "from")
            if not sender:
                raise ProviderUnsupportedError("e-mail needs the key 'from'", provider=self.name)
            if not message.subject:
                raise ProviderRejectedError("an e-mail needs a subject", provider=self.name)
            item = {"to": message.to, "from": sender, "subject": message.subject}
            return item | {"body": message.text}
        # §1.3: the doc's numbers carry the country code without "+" (919591471711).
        number = re.sub(r"[\s().-]", "", message.to).removeprefix("+")
        if not number.isdigit():
            raise ProviderRejectedError(f"'{message.to}' is not a phone number", provider=self.name)
        if channel is not Channel.SMS:
            return {"receiver": number, "template": message.text}
        sms_sender = _option(self.config, "sender")
        return {"to": number, "body": message.text} | ({"sender": sms_sender} if sms_sender else {})

    async def _send_batch(
        self, channel: Channel, items: list[dict[str, str]]
    ) -> list[SendResult | ProviderError]:
        try:
            response = await self._post(channel, items)
        except ProviderRejectedError as exc:
            # A batch in which every item failed may still say which item failed why.
            judged = self._judge(exc.raw, channel, len(items), exc.status_code, failed=True)
            return judged or [exc] * len(items)
        except ProviderError as exc:
            return [exc] * len(items)
        body = json_body(response)
        judged = self._judge(body, channel, len(items), response.status_code, failed=False)
        if judged is not None:
            return judged
        # The batch went out, and the answer neither names each item nor says they all went.
        why = "the answer does not say which recipients it took"
        return [unknown(why, response.status_code, body, self.name)] * len(items)

    def _judge(
        self, body: Any, channel: Channel, count: int, status: int | None, *, failed: bool
    ) -> list[SendResult | ProviderError] | None:
        shape = SHAPES[channel]
        return judge(
            body,
            array=shape.array,
            listing=shape.listing,
            count=count,
            status=status,
            failed=failed,
            provider=self.name,
        )

    # -- auth -------------------------------------------------------------------

    @property
    def _uses_oauth(self) -> bool:
        return bool(_option(self.config, "oauth_key"))

    async def _post(self, channel: Channel, items: list[dict[str, str]]) -> httpx.Response:
        body = {"root": {SHAPES[channel].array: items}}
        return await self._authorized(
            lambda auth: self.request(
                "POST",
                self.base_url + SEND_PATH,
                json=body,
                params={"channel": channel.value},
                headers=JSON_HEADERS | auth,
            )
        )

    async def _authorized(
        self, call: Callable[[dict[str, str]], Awaitable[httpx.Response]]
    ) -> httpx.Response:
        """``call`` with the connection's auth headers, renewing an OAuth token once."""
        auth = await self._auth_headers()
        try:
            return await call(auth)
        except ProviderAuthError as exc:
            if TOKEN_HEADER not in auth or exc.status_code != 401:
                raise
        # §1.2 says to fetch a new token when one expires; it may expire early or be
        # revoked, so renew it once and try once more, then let a second 401 stand.
        self._forget_token(auth[TOKEN_HEADER])
        return await call(await self._auth_headers())

    # -- receipts -----------------------------------------------------------------

    def webhooks_verified(self) -> bool:
        return False  # §1.7: no callbacks to verify, whatever keys the connection has

    async def lookup(self, message: SentRef) -> list[Receipt]:
        """The status of ``message`` in its recipient's customer interactions (§1.7)."""
        query = interaction_query(message)
        try:
            response = await self._authorized(
                lambda auth: self.fetch(
                    self.base_url + INTERACTION_PATH, params=query, headers=JSON_HEADERS | auth
                )
            )
        except ProviderRejectedError as exc:
            if exc.status_code == 404:
                # §1.7: "the number must belong to a registered customer"; what Capillary
                # answers for one that is not (yet) is UNKNOWN: nothing to report, no error.
                return []
            raise
        return interaction_receipts(json_body(response), message)

    async def _auth_headers(self) -> dict[str, str]:
        if self._uses_oauth:
            return {TOKEN_HEADER: await self._access_token()}
        username, password = _option(self.config, "username"), _option(self.config, "password")
        return {"Authorization": basic_authorization(username, password)}

    async def _access_token(self) -> str:
        # The lock makes concurrent sends wait for one fetch instead of each fetching one.
        async with self._token_lock:
            if self._token is None or self.clock() >= self._token_expires:
                self._token, self._token_expires = await self._fetch_token()
                self._issued.append(self._token)
            return self._token

    def _forget_token(self, token: str) -> None:
        if self._token == token:  # another send may have renewed it already
            self._token = None

    async def _fetch_token(self) -> tuple[str, float]:
        started = self.clock()
        key, secret = _option(self.config, "oauth_key"), _option(self.config, "oauth_secret")
        try:
            response = await self.request(
                "POST",
                self.base_url + TOKEN_PATH,
                json={"key": key, "secret": secret},
                headers=JSON_HEADERS,
            )
        except ProviderRejectedError as exc:
            # Whatever the token call refuses, the user's next step is the credentials.
            raise exc.recast(ProviderAuthError, hint=OAUTH_HINT) from None
        except ProviderOutcomeUnknownError as exc:
            # A lost token answer sent no message: trying again cannot send one twice.
            lost = f"the token endpoint did not answer: {exc.detail}"
            raise exc.recast(ProviderUnavailableError, lost) from exc
        body = json_body(response)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("accessToken"), str):
            detail = describe(errors_of(body)) or "the token endpoint gave no access token"
            raise ProviderAuthError(
                detail, provider=self.name, status_code=response.status_code, hint=OAUTH_HINT
            )
        try:
            ttl = max(0.0, float(data.get("ttlSeconds", DEFAULT_TOKEN_TTL)))
        except (TypeError, ValueError):
            ttl = DEFAULT_TOKEN_TTL
        return data["accessToken"], started + ttl - min(TOKEN_MARGIN, ttl / 2)

    # -- errors -----------------------------------------------------------------

    def error_detail(self, response: httpx.Response) -> str:
        body = json_body(response)
        if not isinstance(body, dict):
            return super().error_detail(response)
        envelope = body.get("status")
        parts = [describe([envelope]) if isinstance(envelope, dict) else ""]
        for shape in SHAPES.values():  # the first item's errors say what the status means
            entries = body.get(shape.listing)
            if isinstance(entries, list) and entries:
                parts.append(describe(errors_of(entries[0])))
        parts.append(describe(errors_of(body)))  # the v3 token endpoint's {"errors": [...]}
        return ": ".join(part for part in parts if part) or super().error_detail(response)

    def error_hint(self, response: httpx.Response) -> str | None:
        status = response.status_code
        if response.request.url.path.endswith(TOKEN_PATH) and status in (400, 401, 403):
            return OAUTH_HINT
        if status == 401:
            return OAUTH_HINT if self._uses_oauth else BASIC_HINT
        if status == 403:
            return ACCESS_HINT
        body = json_body(response)
        return code_hint({code_of(body.get("status"))} if isinstance(body, dict) else set())


# -- configuration --------------------------------------------------------------


def _option(config: ConnectionConfig, key: str) -> str:
    value = config.option(key)
    return "" if value is None else str(value).strip()


def _config_problems(config: ConnectionConfig) -> list[str]:
    problems = []
    base_url, channel = config.base_url or "", config.channel
    if not base_url:
        problems.append("needs 'base_url': the cluster host, like https://eu.api.capillarytech.com")
    elif not re.match(r"https?://[^/]", base_url):
        problems.append(f"base_url '{base_url}' must start with https://")
    elif re.search(r"/v\d+(\.\d+)?/?$", base_url):
        problems.append("base_url is the cluster host alone, without /v1.1 (Herald adds the path)")
    given = {key for key in CapillaryProvider.optional_keys if _option(config, key)}
    basic, oauth = given & {"username", "password"}, given & {"oauth_key", "oauth_secret"}
    if basic and oauth:
        problems.append("use 'username'/'password' or 'oauth_key'/'oauth_secret', not both")
    elif not basic and not oauth:
        problems.append("needs 'username' and 'password' (Basic) or 'oauth_key' and 'oauth_secret'")
    else:
        pair = ("username", "password") if basic else ("oauth_key", "oauth_secret")
        problems += [f"needs '{a}' with '{b}'" for a, b in (pair, pair[::-1]) if a not in given]
    if channel is Channel.EMAIL and "from" not in given:
        problems.append("channel email needs 'from', the sender's e-mail address")
    if channel is not Channel.EMAIL and "from" in given:
        problems.append(f"'from' is the e-mail sender; channel {channel!s} does not use it")
    if channel is not Channel.SMS and "sender" in given:
        problems.append(f"'sender' is an SMS sender id; channel {channel!s} does not use it")
    return problems
