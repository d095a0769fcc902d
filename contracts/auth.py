"""Credentials the gate sends: an IAM token or an AK/SK pair.

AK/SK requests are signed with huaweicloudsdkcore's `Signer`, the signer the
official SDK uses, once the request is fully prepared (method, final URL,
body), so the signature covers exactly what goes on the wire. Both the
schemathesis calls (requests) and the gate's own set-up calls (httpx) go
through `sign_headers`.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import httpx
import requests
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

# Request headers the signature covers, besides Host and the ones the signer
# adds. Transport headers such as Connection or Accept-Encoding are left out
# so that nothing between client and server can invalidate a signature.
SIGNED_REQUEST_HEADERS = ("Content-Type", "X-Project-Id")
SECRET_HEADERS = ("X-Auth-Token", "Authorization")
REDACTED = "***"


@dataclass(frozen=True)
class TokenCredentials:
    """An IAM project-scoped token, sent as `X-Auth-Token`."""

    token: str

    def __repr__(self) -> str:
        return f"TokenCredentials(token={REDACTED!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.token,)

    def headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token}

    def requests_auth(self) -> requests.auth.AuthBase | None:
        return None

    def httpx_auth(self) -> httpx.Auth | None:
        return None


@dataclass(frozen=True)
class AkSkCredentials:
    """An access key pair. Every request carries an `SDK-HMAC-SHA256` signature."""

    access_key: str
    secret_key: str

    def __repr__(self) -> str:
        return f"AkSkCredentials(access_key={REDACTED!r}, secret_key={REDACTED!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.access_key, self.secret_key)

    def headers(self) -> dict[str, str]:
        return {}

    def requests_auth(self) -> requests.auth.AuthBase | None:
        return _RequestsSigner(self)

    def httpx_auth(self) -> httpx.Auth | None:
        return _HttpxSigner(self)


Credentials = TokenCredentials | AkSkCredentials


def sign_headers(
    credentials: AkSkCredentials,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
) -> dict[str, str]:
    """Return the headers to add to a request so that it carries a valid signature."""
    parts = urlsplit(url)
    to_sign = {
        name: value
        for name, value in headers.items()
        if name.title() in SIGNED_REQUEST_HEADERS
    }
    to_sign["Host"] = parts.netloc
    request = SdkRequest(
        method=method.upper(),
        schema=parts.scheme,
        host=parts.netloc,
        resource_path=parts.path or "/",
        query_params=parse_qsl(parts.query, keep_blank_values=True),
        header_params=to_sign,
        body=body or b"",
    )
    signer = Signer(BasicCredentials(credentials.access_key, credentials.secret_key))
    signed = signer.sign(request).header_params
    # The signer adds Authorization, X-Sdk-Date and, for a body that is not
    # JSON, X-Sdk-Content-Sha256; the signature covers all of them.
    present = {name.lower() for name in headers}
    return {
        name: value for name, value in signed.items() if name.lower() not in present
    }


class _RequestsSigner(requests.auth.AuthBase):
    def __init__(self, credentials: AkSkCredentials) -> None:
        self.credentials = credentials

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body
        if isinstance(body, str):
            body = body.encode()
        # The signer needs text. http.client sends str header values as
        # Latin-1, so Latin-1 decoding keeps a bytes value's wire form.
        headers = {
            name: value.decode("latin-1") if isinstance(value, bytes) else value
            for name, value in request.headers.items()
        }
        added = sign_headers(
            self.credentials,
            request.method or "GET",
            request.url or "",
            headers,
            body if isinstance(body, bytes) else None,
        )
        request.headers.update(added)
        return request


class _HttpxSigner(httpx.Auth):
    requires_request_body = True

    def __init__(self, credentials: AkSkCredentials) -> None:
        self.credentials = credentials

    def auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        added = sign_headers(
            self.credentials,
            request.method,
            str(request.url),
            request.headers,
            request.content,
        )
        request.headers.update(added)
        yield request


def redact_headers(headers: Mapping[str, str | bytes]) -> dict[str, str | bytes]:
    """Copy `headers` with every credential-bearing value replaced by `***`."""
    secret = {name.lower() for name in SECRET_HEADERS}
    return {
        name: REDACTED if name.lower() in secret else value
        for name, value in headers.items()
    }
