"""The settings object: every documented variable is a field and every field is documented,
defaults match the modules that use them, and malformed values are refused by name."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from api.context import Settings
from cli import settings as settings_module
from cli.config_errors import ConfigurationError
from cli.settings import ChronicleSettings, documented_fields
from projections.chain.linker import SIGN_EVERY_EVENTS, SIGN_EVERY_SECONDS
from workers.delivery import BACKOFF_MAX

README = Path(__file__).resolve().parents[2] / "README.md"
TARGET_PATTERN = "CHRONICLE_NOTIFY_<TYPE>_<KEY>[_<ID>]"


def _readme_configuration_variables() -> set[str]:
    """Variables named in the first column of the tables of the README's Configuration section."""
    text = README.read_text()
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `CHRONICLE_"):
            first_column = line.split("|")[1]
            names.update(re.findall(r"`(CHRONICLE_[^`]+)`", first_column))
    return names


def test_every_documented_variable_is_a_field_and_every_field_is_documented() -> None:
    documented = _readme_configuration_variables() - {TARGET_PATTERN}
    fields = {f.metadata["env"] for f in documented_fields()}
    assert documented - fields == set(), "documented in the README but not a field of cli.settings"
    assert fields - documented == set(), "a field of cli.settings missing from the README's settings tables"


def test_every_field_has_a_doc_line() -> None:
    for f in documented_fields():
        assert f.metadata["doc"].strip(), f.name


def test_defaults_are_those_of_the_modules_using_them() -> None:
    unset = ChronicleSettings.from_environ({})
    api_defaults = Settings("root", "password")
    assert (settings_module.SIGN_EVERY_EVENTS, settings_module.SIGN_EVERY_SECONDS) == (
        SIGN_EVERY_EVENTS,
        SIGN_EVERY_SECONDS,
    )
    assert settings_module.BACKOFF_MAX == BACKOFF_MAX
    assert unset.body_timeout == api_defaults.body_timeout
    assert unset.min_part_size == api_defaults.min_part_size
    assert unset.commit_threads == api_defaults.commit_threads
    assert unset.append_connections == api_defaults.append_connections
    assert unset.client_region == api_defaults.region == "us-east-1"
    assert unset.region == ""  # target ARNs carry no region unless one is set, as MinIO's
    assert unset.test_clock_file is None  # the test clock is off unless asked for
    assert unset.database_url is None


def test_values_are_parsed_once_into_their_types() -> None:
    s = ChronicleSettings.from_environ(
        {
            "CHRONICLE_BODY_TIMEOUT": "2.5",
            "CHRONICLE_MIN_PART_SIZE": "1024",
            "CHRONICLE_MAX_CONNECTIONS": "64",
            "CHRONICLE_REGION": "eu-west-1",
            "CHRONICLE_NOTIFY_REDIS_ENABLE_1": "on",
            "CHRONICLE_NOTIFY_HTTP_PIPELINE": "4",
            "HOME": "/root",
        }
    )
    assert (s.body_timeout, s.min_part_size, s.max_connections, s.client_region) == (2.5, 1024, 64, "eu-west-1")
    assert s.max_connections_chosen
    assert s.notify_http_pipeline == 4
    assert s.notify_environ == {"CHRONICLE_NOTIFY_REDIS_ENABLE_1": "on", "CHRONICLE_NOTIFY_HTTP_PIPELINE": "4"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHRONICLE_BODY_TIMEOUT", "soon"),
        ("CHRONICLE_GC_GRACE", "-1"),
        ("CHRONICLE_WORKERS", "two"),
        ("CHRONICLE_MAX_CONNECTIONS", "0"),
        ("CHRONICLE_NOTIFY_HTTP_PIPELINE", "0"),
        ("CHRONICLE_CHAIN_CHECKPOINT_EVENTS", "many"),
    ],
)
def test_a_malformed_value_is_refused_naming_its_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        ChronicleSettings.from_environ({name: value})


# The one read of the environment is cli.main's; the event store's pool and fast path
# settings are still read where the store is opened until it takes them as arguments.
ENVIRONMENT_READERS = {"cli/main.py"}
PRODUCT = ("api", "cli", "domain", "migrations", "projections", "workers")


def _reads_environment(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                lines.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            if any(alias.name in ("environ", "getenv") for alias in node.names):
                lines.append(node.lineno)
    return lines


def test_no_module_but_the_entry_point_reads_the_environment() -> None:
    root = README.parent
    found = {}
    for folder in PRODUCT:
        for path in sorted((root / folder).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if relative in ENVIRONMENT_READERS:
                continue
            lines = _reads_environment(ast.parse(path.read_text(), relative))
            if lines:
                found[relative] = lines
    assert found == {}, "read settings from cli.settings.ChronicleSettings, handed down from cli.main"
