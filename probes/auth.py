"""The three ways `ges-probe` authenticates, as `httpx.Auth` flows.

- `TokenAuth`: a fixed IAM token in `X-Auth-Token`.
- `AkSkAuth`: every request signed with huaweicloudsdkcore's `Signer`.
- `IamPasswordAuth`: a project-scoped token obtained from IAM
  `POST /v3/auth/tokens` (the token is the `X-Subject-Token` response header and
  its expiry is `token.expires_at` in the body), renewed before it expires and
  once more when the API rejects it with 401.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

DEFAULT_RENEW_BEFORE_SECONDS = 3600.0
IAM_TOKENS_PATH = "/v3/auth/tokens"


class IamError(Exception):
    """IAM did not issue a token; the message never contains the password."""


class TokenAuth(httpx.Auth):
    """Send a fixed token in `X-Auth-Token`."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-Auth-Token"] = self._token
        yield request


class AkSkAuth(httpx.Auth):
    """Sign each request with an access key and secret key (SDK-HMAC-SHA256)."""

    requires_request_body = True

    def __init__(self, access_key: str, secret_key: str) -> None:
        self._signer = Signer(BasicCredentials(access_key, secret_key))

    def auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request

    def sign(self, request: httpx.Request) -> None:
        """Add `X-Sdk-Date` and `Authorization` over the exact bytes httpx sends."""
        headers = {
            "Host": request.headers["Host"],
            "X-Sdk-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        }
        if "Content-Type" in request.headers:
            headers["Content-Type"] = request.headers["Content-Type"]
        sdk_request = SdkRequest(
            method=request.method,
            schema=request.url.scheme,
            host=request.url.netloc.decode("ascii"),
            resource_path=request.url.path,
            query_params=list(request.url.params.multi_items()),
            header_params=headers,
            body=request.content,
        )
        self._signer.sign(sdk_request)
        request.headers["X-Sdk-Date"] = sdk_request.header_params["X-Sdk-Date"]
        request.headers["Authorization"] = sdk_request.header_params["Authorization"]


@dataclass(frozen=True)
class IamCredentials:
    """An IAM user's password credentials and the project to scope tokens to."""

    url: str
    user_name: str
    password: str
    domain_name: str
    project_id: str
    renew_before_seconds: float = DEFAULT_RENEW_BEFORE_SECONDS

    def __repr__(self) -> str:
        return (
            f"IamCredentials(url={self.url!r}, user_name={self.user_name!r}, "
            f"domain_name={self.domain_name!r}, project_id={self.project_id!r})"
        )


class TokenSource:
    """Obtain project-scoped tokens from IAM and keep one that is not near expiry."""

    def __init__(
        self,
        credentials: IamCredentials,
        http: httpx.Client,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credentials = credentials
        self._http = http
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.issued = 0

    def token(self) -> str:
        """Return a token valid for at least `renew_before_seconds` more, if IAM can."""
        with self._lock:
            renew_at = self._expires_at - self._credentials.renew_before_seconds
            if self._token is None or self._clock() >= renew_at:
                self._token, self._expires_at = self._request_token()
                self.issued += 1
            return self._token

    def close(self) -> None:
        """Close the HTTP client used to reach IAM."""
        self._http.close()

    @property
    def expires_at(self) -> float:
        """Unix time at which the current token expires; 0 before the first."""
        return self._expires_at

    def invalidate(self, token: str) -> None:
        """Forget `token` so that the next `token()` call obtains a new one."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _request_token(self) -> tuple[str, float]:
        credentials = self._credentials
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": credentials.user_name,
                            "password": credentials.password,
                            "domain": {"name": credentials.domain_name},
                        }
                    },
                },
                "scope": {"project": {"id": credentials.project_id}},
            }
        }
        url = credentials.url.rstrip("/") + IAM_TOKENS_PATH
        try:
            response = self._http.post(url, json=body)
        except httpx.HTTPError as exc:
            raise IamError(f"IAM token request to `{url}` failed: {exc!r}") from None
        if response.status_code != 201 and response.status_code != 200:
            raise IamError(
                f"IAM rejected the token request to `{url}` with HTTP "
                f"{response.status_code}; check the IAM user, domain and password"
            )
        token = response.headers.get("X-Subject-Token")
        expires_at = _parse_expires_at(response)
        if not token or expires_at is None:
            raise IamError(
                f"IAM response from `{url}` has no X-Subject-Token header or no "
                "valid token.expires_at"
            )
        return token, expires_at


def _parse_expires_at(response: httpx.Response) -> float | None:
    try:
        text = response.json()["token"]["expires_at"]
        moment = datetime.fromisoformat(text)
    except (ValueError, KeyError, TypeError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class IamPasswordAuth(httpx.Auth):
    """Send an IAM token from a `TokenSource`; on 401, renew it and retry once."""

    def __init__(self, source: TokenSource) -> None:
        self.source = source

    def auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.source.token()
        request.headers["X-Auth-Token"] = token
        response = yield request
        if response.status_code == 401:
            self.source.invalidate(token)
            request.headers["X-Auth-Token"] = self.source.token()
            yield request
