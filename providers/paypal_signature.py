"""PayPal webhook signature verification with `cryptography`: RSA-SHA256 over
`transmission_id|transmission_time|webhook_id|crc32(body)` against an allow-listed, cached cert.

paypalrestsdk has its own check, but it always fails with current pyOpenSSL; this one replaces it.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import aiohttp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kernel.bounded import BoundedCache
from providers.errors import ProviderConfigError, TransientProviderError, WebhookVerificationError

log = logging.getLogger(__name__)

PROVIDER = "paypal"

HEADER_TRANSMISSION_ID = "PAYPAL-TRANSMISSION-ID"
HEADER_TRANSMISSION_TIME = "PAYPAL-TRANSMISSION-TIME"
HEADER_TRANSMISSION_SIG = "PAYPAL-TRANSMISSION-SIG"
HEADER_CERT_URL = "PAYPAL-CERT-URL"
HEADER_AUTH_ALGO = "PAYPAL-AUTH-ALGO"
SIGNATURE_ALGORITHM = "SHA256withRSA"

PRODUCTION_CERT_HOSTS: tuple[str, ...] = ("*.paypal.com",)
"""Only PayPal's own hosts, over https."""

MAX_CERT_BYTES = 64 * 1024
MAX_CACHED_CERTS = 16
CERT_KEPT = timedelta(hours=12)
"""How long a fetched certificate is trusted before it is fetched again."""
CERT_UNUSABLE = "the signing certificate could not be fetched or read"


def signed_message(
    transmission_id: str, transmission_time: str, webhook_id: str, body: bytes
) -> bytes:
    """What PayPal signs: the CRC32 of the raw body as an unsigned decimal integer."""
    crc = zlib.crc32(body) & 0xFFFFFFFF
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{crc}".encode()


def cert_url_allowed(url: str, allowed: Sequence[str]) -> bool:
    """Is `url` on the allow-list? Entries are `host` or `*.domain` (any subdomain), https only
    unless the entry starts with `http://`, which also allows plain http (for a local fake)."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host or parts.username or parts.password or parts.scheme not in ("http", "https"):
        return False
    for entry in allowed:
        scheme, sep, pattern = entry.strip().lower().rpartition("://")
        schemes = {"https"} if not sep or scheme == "https" else {"http", "https"}
        if parts.scheme not in schemes:
            continue
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


@dataclass(frozen=True)
class SignatureHeaders:
    """The five PAYPAL-* headers of one delivery."""

    transmission_id: str
    transmission_time: str
    transmission_sig: str
    cert_url: str
    auth_algo: str

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> SignatureHeaders:
        lowered = {name.lower(): value for name, value in headers.items()}
        values: dict[str, str] = {}
        missing = []
        for field_name, header in (
            ("transmission_id", HEADER_TRANSMISSION_ID),
            ("transmission_time", HEADER_TRANSMISSION_TIME),
            ("transmission_sig", HEADER_TRANSMISSION_SIG),
            ("cert_url", HEADER_CERT_URL),
            ("auth_algo", HEADER_AUTH_ALGO),
        ):
            value = lowered.get(header.lower(), "").strip()
            if not value:
                missing.append(header)
            values[field_name] = value
        if missing:
            raise WebhookVerificationError(PROVIDER, f"missing headers: {', '.join(missing)}")
        return cls(**values)

    def sent_at(self) -> datetime:
        try:
            moment = datetime.fromisoformat(self.transmission_time)
        except ValueError:
            raise WebhookVerificationError(
                PROVIDER, f"unreadable {HEADER_TRANSMISSION_TIME}: {self.transmission_time!r}"
            ) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class CertificateCache:
    """Signing certificates by URL, fetched once over HTTP (no redirects, bounded size and time)
    from allow-listed hosts only."""

    def __init__(self, allowed_hosts: Sequence[str], timeout_seconds: float) -> None:
        self.allowed_hosts = tuple(allowed_hosts)
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._certs: BoundedCache[str, tuple[x509.Certificate, float]] = BoundedCache(
            MAX_CACHED_CERTS
        )
        self._session: aiohttp.ClientSession | None = None

    async def get(self, url: str) -> x509.Certificate:
        """The certificate at `url`, fetched once and kept (bounded) for `CERT_KEPT` at most.
        Raises `WebhookVerificationError` alike whatever went wrong, so that a caller choosing
        the URL learns nothing about it (why is logged)."""
        if not cert_url_allowed(url, self.allowed_hosts):
            raise WebhookVerificationError(PROVIDER, f"certificate URL not allowed: {url}")
        kept = self._certs.get(url)
        now = time.monotonic()
        if kept is not None and now - kept[1] < CERT_KEPT.total_seconds():
            return kept[0]
        try:
            cert = await self._fetch(url)
        except (TransientProviderError, WebhookVerificationError) as error:
            log.warning("paypal webhook certificate unusable: %s", error)
            raise WebhookVerificationError(PROVIDER, CERT_UNUSABLE) from None
        self._certs.put(url, (cert, now))
        return cert

    async def _fetch(self, url: str) -> x509.Certificate:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.get(url, allow_redirects=False) as response:
                if response.status != 200:
                    raise TransientProviderError(
                        PROVIDER, f"certificate fetch from {url} answered {response.status}"
                    )
                data = await response.content.read(MAX_CERT_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TransientProviderError(
                PROVIDER, f"certificate fetch from {url} failed: {error!r}"
            ) from error
        if len(data) > MAX_CERT_BYTES:
            raise WebhookVerificationError(PROVIDER, f"certificate at {url} is too large")
        try:
            chain = x509.load_pem_x509_certificates(data)
        except ValueError as error:
            raise WebhookVerificationError(PROVIDER, f"no PEM certificate at {url}") from error
        log.info("paypal webhook certificate fetched from %s", url)
        return chain[0]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class WebhookVerifier:
    """Checks one delivery: the headers, the transmission time against a tolerance, the
    certificate URL and validity dates, then the RSA-SHA256 signature."""

    def __init__(
        self,
        *,
        webhook_id: str | None,
        cert_hosts: Sequence[str] = PRODUCTION_CERT_HOSTS,
        tolerance_seconds: float = 300.0,
        timeout_seconds: float = 10.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.webhook_id = webhook_id
        self.tolerance = timedelta(seconds=tolerance_seconds)
        self.certificates = CertificateCache(cert_hosts, timeout_seconds)
        self._clock = clock

    async def verify(self, headers: Mapping[str, str], body: bytes) -> datetime:
        """Return the transmission time of a genuine delivery; raise `WebhookVerificationError`
        for anything else."""
        if not self.webhook_id:
            raise ProviderConfigError(PROVIDER, "no webhook id configured to verify webhooks with")
        signature = SignatureHeaders.from_headers(headers)
        if signature.auth_algo.upper() != SIGNATURE_ALGORITHM.upper():
            raise WebhookVerificationError(
                PROVIDER, f"unsupported {HEADER_AUTH_ALGO}: {signature.auth_algo!r}"
            )
        sent_at = signature.sent_at()
        now = self._clock()
        if abs(now - sent_at) > self.tolerance:
            raise WebhookVerificationError(
                PROVIDER, f"transmission time {signature.transmission_time} is outside tolerance"
            )
        try:
            raw_signature = base64.b64decode(signature.transmission_sig, validate=True)
        except (binascii.Error, ValueError):
            raise WebhookVerificationError(PROVIDER, "signature is not base64") from None
        if not _is_json_object(body):
            raise WebhookVerificationError(PROVIDER, "the body is not a JSON object")
        cert = await self.certificates.get(signature.cert_url)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise WebhookVerificationError(
                PROVIDER, f"certificate at {signature.cert_url} is not valid at {now.isoformat()}"
            )
        public_key = cert.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise WebhookVerificationError(PROVIDER, "certificate does not hold an RSA key")
        message = signed_message(
            signature.transmission_id, signature.transmission_time, self.webhook_id, body
        )
        try:
            public_key.verify(raw_signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise WebhookVerificationError(PROVIDER, "signature does not match") from None
        return sent_at

    async def close(self) -> None:
        await self.certificates.close()


def _is_json_object(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body), dict)
    except (ValueError, UnicodeDecodeError):
        return False
