from __future__ import annotations

from pathlib import Path

import pytest

from probes.config import ConfigError, load_config, parse_config

TESTDATA = Path(__file__).with_name("testdata")
ENVIRONMENT = {
    "GES_TEST_TOKEN": "token-from-env",
    "GES_TEST_AK": "ak-from-env",
    "GES_TEST_SK": "sk-from-env",
    "GES_TEST_PASSWORD": "password-from-env",
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, text in ENVIRONMENT.items():
        monkeypatch.setenv(name, text)
    monkeypatch.delenv("GES_TEST_UNSET_VARIABLE", raising=False)


def test_config_valid_file_loads_every_target(environment: None) -> None:
    config = load_config(TESTDATA / "valid.yaml")

    assert config.interval_seconds == 30.0
    assert [t.name for t in config.targets] == [
        "prod-cn-north-4",
        "staging-ak-sk",
        "dev-iam",
    ]
    assert config.label_names() == ("env", "region")


def test_config_valid_file_substitutes_secrets(environment: None) -> None:
    prod, staging, dev = load_config(TESTDATA / "valid.yaml").targets

    assert prod.auth.token == "token-from-env"
    assert staging.auth.access_key == "ak-from-env"
    assert staging.auth.secret_key == "sk-from-env"
    assert dev.auth.iam is not None
    assert dev.auth.iam.password == "password-from-env"
    assert dev.auth.iam.project_id == "p3"
    assert dev.auth.iam.renew_before_seconds == 120.0


def test_config_valid_file_applies_settings_and_defaults(environment: None) -> None:
    prod, staging, _ = load_config(TESTDATA / "valid.yaml").targets

    assert prod.timeouts.connect_seconds == 2.0
    assert prod.timeouts.read_seconds == 10.0
    assert prod.retries.max_attempts == 4
    assert prod.retries.backoff_initial_seconds == 0.2
    assert prod.page_limit == 500
    assert prod.max_exported_graphs == 50
    assert prod.orphan_prefixes == ("gesct_",)
    assert staging.url == "https://ges.cn-east-3.myhuaweicloud.com"
    assert staging.collections == ("graphs", "jobs")
    assert staging.page_limit == 1000
    assert staging.orphan_prefixes == ("gesct_", "gesct-")


def test_config_repr_hides_secrets(environment: None) -> None:
    text = repr(load_config(TESTDATA / "valid.yaml"))

    for secret in ENVIRONMENT.values():
        assert secret not in text


INVALID = [
    (
        "unknown-key",
        (
            "unknown key `targets[0].intervall`; allowed keys here are auth, "
            "collections, graphs, labels, name, orphans, page_limit, project_id, "
            "retries, timeouts, url"
        ),
    ),
    (
        "unset-variable",
        (
            "`targets[0].auth.token` refers to environment variable "
            "`GES_TEST_UNSET_VARIABLE`, which is not set; export it or change the file"
        ),
    ),
    ("no-targets", "`targets` must be a non-empty list, got `[]`"),
    (
        "two-auth-kinds",
        (
            "`targets[0].auth` must set exactly one of `token`, `access_key` with "
            "`secret_key`, or `iam`; it sets ['token', 'access_key']"
        ),
    ),
    ("secret-key-alone", "`targets[0].auth.access_key` is missing"),
    (
        "url-scheme",
        (
            "`targets[0].url` must start with http:// or https://, got "
            "`'ges.cn-north-4.myhuaweicloud.com'`"
        ),
    ),
    ("duplicate-name", "target name `a` is used twice"),
    (
        "reserved-label",
        (
            "`targets[0].labels.graph_id` is a label name the probe sets itself, "
            "got `'graph_id'`"
        ),
    ),
    (
        "label-name",
        (
            "`targets[0].labels.team-name` is not a valid Prometheus label name, "
            "got `'team-name'`"
        ),
    ),
    (
        "collection",
        (
            "`targets[0].collections` lists an unknown kind; use ('quotas', "
            "'graphs', 'jobs', 'backups', 'metadata'), got `'metadatas'`"
        ),
    ),
    ("interval", "`interval_seconds` must be at least 1, got `0.5`"),
    ("interval-not-finite", "`interval_seconds` must be a finite number, got `nan`"),
    ("page-limit", "`targets[0].page_limit` must be an integer, got `'1000'`"),
    ("missing-project-id", "`targets[0].project_id` is missing"),
    (
        "encoding",
        (
            "the file is not UTF-8 text: byte 5 is invalid (invalid continuation "
            "byte); save it as UTF-8"
        ),
    ),
    (
        "url-syntax",
        "`targets[0].url` is not a valid URL: Invalid IPv6 URL, got `'http://[::1'`",
    ),
    (
        "url-port",
        (
            "`targets[0].url` is not a valid URL: Port out of range 0-65535, got "
            "`'http://127.0.0.1:99999'`"
        ),
    ),
    (
        "unterminated-variable",
        (
            "`targets[0].auth.token` has a `${` that starts no valid `${NAME}` "
            "reference; close it with `}` or remove it"
        ),
    ),
    (
        "page-limit-maximum",
        "`targets[0].page_limit` must be at most 10000, got `100000000`",
    ),
    (
        "max-attempts",
        "`targets[0].retries.max_attempts` must be at most 10, got `100000000`",
    ),
    (
        "secret-type",
        (
            "`targets[0].auth.secret_key` must be a non-empty string, got a value "
            "of type `list` (not shown: a secret)"
        ),
    ),
    (
        "yaml",
        (
            "invalid YAML: expected ',' or ']', but got '<stream end>' at line 4, "
            "column 1"
        ),
    ),
]


@pytest.mark.parametrize(("rule", "message"), INVALID, ids=[r for r, _ in INVALID])
def test_config_invalid_file_raises_exact_message(
    environment: None, rule: str, message: str
) -> None:
    path = TESTDATA / f"invalid-{rule}.yaml"

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value) == f"{path}: {message}"


def test_config_missing_file_raises_readable_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert (
        str(caught.value) == f"{path}: cannot read the file: No such file or directory"
    )


SECRET_AUTH = [
    {"access_key": "AK", "secret_key": ["SUPERSECRET"]},
    {"access_key": {"id": "SUPERSECRET"}, "secret_key": "SK"},
    {"token": 123456789},
    {"token": ["SUPERSECRET"]},
    {"iam": {"url": "http://127.0.0.1:1", "user_name": "u", "domain_name": "d",
             "password": {"value": "SUPERSECRET"}}},
    {"iam": ["SUPERSECRET"]},
]  # fmt: skip


@pytest.mark.parametrize("auth", [*SECRET_AUTH, "SUPERSECRET"])
def test_config_invalid_secret_not_in_message(auth: object) -> None:
    data = {"targets": [{"name": "a", "url": "http://127.0.0.1:1",
                         "project_id": "p", "auth": auth}]}  # fmt: skip

    with pytest.raises(ConfigError) as caught:
        parse_config("probe.yaml", data)

    message = str(caught.value)
    assert "SUPERSECRET" not in message
    assert "123456789" not in message
    assert "not shown: a secret" in message
