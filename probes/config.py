"""The probe's configuration: YAML, validated strictly at load.

A file looks like this (every key but `targets`, `name`, `url`, `project_id`
and one kind of `auth` has a default):

    interval_seconds: 60
    targets:
      - name: prod-cn-north-4
        url: https://ges.cn-north-4.myhuaweicloud.com
        project_id: 0a1b2c...
        labels: {env: prod, region: cn-north-4}
        auth:
          token: ${GES_AUTH_TOKEN}
          # or: access_key: ${HUAWEICLOUD_SDK_AK}
          #     secret_key: ${HUAWEICLOUD_SDK_SK}
          # or: iam: {url: ..., user_name: ..., password: ${IAM_PASSWORD},
          #           domain_name: ..., renew_before_seconds: 3600}
        timeouts: {connect_seconds: 5, read_seconds: 30}
        retries: {max_attempts: 3, backoff_initial_seconds: 0.5,
                  backoff_max_seconds: 10, retry_after_max_seconds: 60}
        page_limit: 1000
        collections: [quotas, graphs, jobs, backups, metadata]
        graphs: {max_exported: 1000}
        orphans: {prefixes: [gesct_, gesct-], min_age_seconds: 3600}

Unknown keys are errors. `${VAR}` in a string value is replaced by the
environment variable VAR, and an unset VAR is an error: secrets belong in the
environment, not in the file.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import yaml

from probes.auth import DEFAULT_RENEW_BEFORE_SECONDS, IamCredentials
from probes.client import RetryPolicy, Timeouts
from sandbox import MAX_PAGE_LIMIT

DEFAULT_INTERVAL_SECONDS = 60.0
# A shorter interval would poll the API nearly without pause: one cycle of a
# large project alone takes longer than this.
MIN_INTERVAL_SECONDS = 1.0
# GES documents no maximum page size, so the default is the largest page the
# sandbox serves: one cycle then needs the fewest requests it allows.
DEFAULT_PAGE_LIMIT = MAX_PAGE_LIMIT
# Ten times the default page: at about 2 kB per graph, a larger page of graphs
# would come near the client's MAX_RESPONSE_BYTES.
MAX_PAGE_LIMIT_SETTING = 10 * MAX_PAGE_LIMIT
# With the default backoff, ten attempts already wait up to a minute in total.
MAX_ATTEMPTS_SETTING = 10
DEFAULT_MAX_EXPORTED_GRAPHS = 1000
# The conformance gate names what it creates `gesct_<run id>...`: graph and
# metadata names allow no hyphen. `gesct-` covers resources whose names may
# have one.
DEFAULT_ORPHAN_PREFIXES = ("gesct_", "gesct-")
# A conformance-gate run lasts minutes; a resource of a run an hour old has
# outlived it.
DEFAULT_ORPHAN_MIN_AGE_SECONDS = 3600.0
COLLECTION_KINDS = ("quotas", "graphs", "jobs", "backups", "metadata")

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Keys whose values are credentials, or mappings that contain them: an error
# about one names the value's type, never the value.
_SECRET_KEYS = frozenset(
    {"auth", "iam", "token", "access_key", "secret_key", "password"}
)
_RESERVED_LABELS = frozenset(
    {"target", "project_id", "graph_id", "graph_name", "status", "type", "version",
     "size_type", "arch", "job_type", "job_name", "outcome", "operation",
     "status_code", "error_code", "kind", "collection", "le"}
)  # fmt: skip


class ConfigError(Exception):
    """The configuration file is unreadable or invalid."""


@dataclass(frozen=True)
class Auth:
    """Exactly one of a token, an AK/SK pair or IAM password credentials."""

    token: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    iam: IamCredentials | None = None

    def __repr__(self) -> str:
        kind = "token" if self.token else "ak/sk" if self.access_key else "iam"
        return f"Auth(kind={kind!r})"


@dataclass(frozen=True)
class Target:
    """One GES endpoint and project to poll, with its credentials and labels."""

    name: str
    url: str
    project_id: str
    auth: Auth
    labels: Mapping[str, str] = field(default_factory=dict)
    timeouts: Timeouts = field(default_factory=Timeouts)
    retries: RetryPolicy = field(default_factory=RetryPolicy)
    page_limit: int = DEFAULT_PAGE_LIMIT
    collections: tuple[str, ...] = COLLECTION_KINDS
    max_exported_graphs: int = DEFAULT_MAX_EXPORTED_GRAPHS
    orphan_prefixes: tuple[str, ...] = DEFAULT_ORPHAN_PREFIXES
    orphan_min_age_seconds: float = DEFAULT_ORPHAN_MIN_AGE_SECONDS


@dataclass(frozen=True)
class Config:
    """The whole configuration: the poll interval and the targets."""

    targets: tuple[Target, ...]
    interval_seconds: float = DEFAULT_INTERVAL_SECONDS

    def label_names(self) -> tuple[str, ...]:
        """Return the union of configured label names, sorted."""
        return tuple(sorted({key for t in self.targets for key in t.labels}))


class _Reader:
    """Read one mapping of the file, rejecting unknown keys and bad types."""

    def __init__(self, source: str, where: str, data: Any, allowed: set[str]) -> None:
        self.source = source
        self.where = where
        if not isinstance(data, dict):
            self.fail(where, data, "must be a mapping")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ConfigError(
                f"{source}: unknown key `{self.key(unknown[0])}`; allowed keys "
                f"here are {', '.join(sorted(allowed))}"
            )
        self.data: dict[str, Any] = data

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def fail(self, key: str, value: Any, problem: str) -> NoReturn:
        if key.rsplit(".", 1)[-1] in _SECRET_KEYS:
            shown = f"a value of type `{type(value).__name__}` (not shown: a secret)"
        else:
            shown = f"`{value!r}`"
        raise ConfigError(f"{self.source}: `{key}` {problem}, got {shown}")

    def string(self, name: str, default: str | None = None) -> str:
        value = self.data.get(name, default)
        if value is None:
            raise ConfigError(f"{self.source}: `{self.key(name)}` is missing")
        if not isinstance(value, str) or not value:
            self.fail(self.key(name), value, "must be a non-empty string")
        return _substitute(self.source, self.key(name), value)

    def number(
        self,
        name: str,
        default: float,
        above: float = 0.0,
        at_least: float | None = None,
    ) -> float:
        """Read a finite number greater than `above`, or at least `at_least`."""
        value = self.data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(self.key(name), value, "must be a number")
        if not math.isfinite(value):
            self.fail(self.key(name), value, "must be a finite number")
        if at_least is not None and value < at_least:
            self.fail(self.key(name), value, f"must be at least {at_least:g}")
        if at_least is None and value <= above:
            self.fail(self.key(name), value, f"must be greater than {above:g}")
        return float(value)

    def integer(
        self, name: str, default: int, minimum: int = 1, maximum: int | None = None
    ) -> int:
        value = self.data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(self.key(name), value, "must be an integer")
        if value < minimum:
            self.fail(self.key(name), value, f"must be at least {minimum}")
        if maximum is not None and value > maximum:
            self.fail(self.key(name), value, f"must be at most {maximum}")
        return value

    def url(self, name: str) -> str:
        """Read an http(s) URL with a host and, if it has one, a valid port."""
        url = self.string(name)
        key = self.key(name)
        if not url.startswith(("http://", "https://")):
            self.fail(key, url, "must start with http:// or https://")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            self.fail(key, url, f"is not a valid URL: {exc}")
        if not parts.hostname:
            self.fail(key, url, "has no host")
        if port == 0:
            self.fail(key, url, "has port 0; use a port from 1 to 65535")
        return url

    def section(self, name: str, allowed: set[str]) -> _Reader:
        return _Reader(self.source, self.key(name), self.data.get(name, {}), allowed)


def _substitute(source: str, key: str, value: str) -> str:
    if "${" in _VARIABLE.sub("", value):
        raise ConfigError(
            f"{source}: `{key}` has a `${{` that starts no valid `${{NAME}}` "
            "reference; close it with `}` or remove it"
        )

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(
                f"{source}: `{key}` refers to environment variable `{name}`, "
                "which is not set; export it or change the file"
            )
        return os.environ[name]

    return _VARIABLE.sub(replace, value)


def load_config(path: str | Path) -> Config:
    """Read and validate the YAML file at `path`."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{source}: the file is not UTF-8 text: byte {exc.start} is invalid "
            f"({exc.reason}); save it as UTF-8"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {_yaml_problem(exc)}") from None
    return parse_config(source, data)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is None:
        return problem
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"


def parse_config(source: str, data: Any) -> Config:
    """Validate the parsed YAML document `data`; `source` names it in errors."""
    top = _Reader(source, "", data, {"interval_seconds", "targets"})
    interval = top.number(
        "interval_seconds", DEFAULT_INTERVAL_SECONDS, at_least=MIN_INTERVAL_SECONDS
    )
    raw_targets = top.data.get("targets")
    if not isinstance(raw_targets, list) or not raw_targets:
        top.fail("targets", raw_targets, "must be a non-empty list")

    targets = tuple(
        _parse_target(source, f"targets[{index}]", raw)
        for index, raw in enumerate(raw_targets)
    )
    names = [t.name for t in targets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{source}: target name `{duplicates[0]}` is used twice")
    return Config(targets=targets, interval_seconds=interval)


_TARGET_KEYS = {
    "name", "url", "project_id", "labels", "auth", "timeouts", "retries",
    "page_limit", "collections", "graphs", "orphans",
}  # fmt: skip


def _parse_target(source: str, where: str, raw: Any) -> Target:
    reader = _Reader(source, where, raw, _TARGET_KEYS)
    name = reader.string("name")
    url = reader.url("url")
    project_id = reader.string("project_id")

    timeouts = reader.section("timeouts", {"connect_seconds", "read_seconds"})
    retries = reader.section(
        "retries",
        {"max_attempts", "backoff_initial_seconds", "backoff_max_seconds",
         "retry_after_max_seconds"},
    )  # fmt: skip
    graphs = reader.section("graphs", {"max_exported"})
    orphans = reader.section("orphans", {"prefixes", "min_age_seconds"})

    return Target(
        name=name,
        url=url.rstrip("/"),
        project_id=project_id,
        auth=_parse_auth(reader, project_id),
        labels=_parse_labels(reader),
        timeouts=Timeouts(
            connect_seconds=timeouts.number(
                "connect_seconds", Timeouts.connect_seconds
            ),
            read_seconds=timeouts.number("read_seconds", Timeouts.read_seconds),
        ),
        retries=RetryPolicy(
            max_attempts=retries.integer(
                "max_attempts", RetryPolicy.max_attempts, maximum=MAX_ATTEMPTS_SETTING
            ),
            backoff_initial_seconds=retries.number(
                "backoff_initial_seconds", RetryPolicy.backoff_initial_seconds
            ),
            backoff_max_seconds=retries.number(
                "backoff_max_seconds", RetryPolicy.backoff_max_seconds
            ),
            retry_after_max_seconds=retries.number(
                "retry_after_max_seconds", RetryPolicy.retry_after_max_seconds
            ),
        ),
        page_limit=reader.integer(
            "page_limit", DEFAULT_PAGE_LIMIT, maximum=MAX_PAGE_LIMIT_SETTING
        ),
        collections=_parse_collections(reader),
        max_exported_graphs=graphs.integer(
            "max_exported", DEFAULT_MAX_EXPORTED_GRAPHS, minimum=0
        ),
        orphan_prefixes=_parse_prefixes(orphans),
        orphan_min_age_seconds=orphans.number(
            "min_age_seconds", DEFAULT_ORPHAN_MIN_AGE_SECONDS
        ),
    )


def _parse_labels(reader: _Reader) -> dict[str, str]:
    raw = reader.data.get("labels", {})
    if not isinstance(raw, dict):
        reader.fail(reader.key("labels"), raw, "must be a mapping")
    labels: dict[str, str] = {}
    for name, value in raw.items():
        key = reader.key(f"labels.{name}")
        if not isinstance(name, str) or not _LABEL_NAME.fullmatch(name):
            reader.fail(key, name, "is not a valid Prometheus label name")
        if name.startswith("__") or name in _RESERVED_LABELS:
            reader.fail(key, name, "is a label name the probe sets itself")
        if not isinstance(value, str):
            reader.fail(key, value, "must be a string")
        labels[name] = _substitute(reader.source, key, value)
    return labels


def _parse_prefixes(reader: _Reader) -> tuple[str, ...]:
    raw = reader.data.get("prefixes", list(DEFAULT_ORPHAN_PREFIXES))
    key = reader.key("prefixes")
    if not isinstance(raw, list) or not raw:
        reader.fail(key, raw, "must be a non-empty list")
    for prefix in raw:
        if not isinstance(prefix, str) or not prefix:
            reader.fail(key, prefix, "must list non-empty strings")
    return tuple(raw)


def _parse_collections(reader: _Reader) -> tuple[str, ...]:
    raw = reader.data.get("collections", list(COLLECTION_KINDS))
    key = reader.key("collections")
    if not isinstance(raw, list) or not raw:
        reader.fail(key, raw, "must be a non-empty list")
    for kind in raw:
        if kind not in COLLECTION_KINDS:
            reader.fail(key, kind, f"lists an unknown kind; use {COLLECTION_KINDS}")
    return tuple(dict.fromkeys(raw))


def _parse_auth(reader: _Reader, project_id: str) -> Auth:
    auth = reader.section("auth", {"token", "access_key", "secret_key", "iam"})
    kinds: list[str] = [k for k in ("token", "access_key", "iam") if k in auth.data]
    if "secret_key" in auth.data and "access_key" not in auth.data:
        kinds.append("secret_key")
    if len(kinds) != 1:
        raise ConfigError(
            f"{reader.source}: `{auth.where}` must set exactly one of `token`, "
            f"`access_key` with `secret_key`, or `iam`; it sets {kinds or 'none'}"
        )
    if kinds == ["token"]:
        return Auth(token=auth.string("token"))
    if kinds == ["access_key"]:
        return Auth(
            access_key=auth.string("access_key"), secret_key=auth.string("secret_key")
        )
    if kinds == ["secret_key"]:
        raise ConfigError(f"{reader.source}: `{auth.key('access_key')}` is missing")

    iam = auth.section(
        "iam",
        {"url", "user_name", "password", "domain_name", "renew_before_seconds"},
    )
    iam_url = iam.url("url")
    return Auth(
        iam=IamCredentials(
            url=iam_url,
            user_name=iam.string("user_name"),
            password=iam.string("password"),
            domain_name=iam.string("domain_name"),
            project_id=project_id,
            renew_before_seconds=iam.number(
                "renew_before_seconds", DEFAULT_RENEW_BEFORE_SECONDS
            ),
        )
    )
