"""archiver.toml: what is accepted, what is refused, and how each refusal reads."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from archiver.config import load_config, parse_duration
from archiver.errors import ConfigError

GOOD = """
[archive]
database_url = "sqlite:///archive/archive.db"
files_dir = "archive/files"

[[sources]]
name = "qaves-main"
provider = "qaves"
api_key_env = "QAVES_KEY"
interval = "15m"
buckets = ["default", "Client Acme"]

[[sources]]
name = "ip"
provider = "imaginepro"
api_key_file = "keys/ip.txt"
base_url = "http://127.0.0.1:9999/prefix/"
interval = "1h"
download = false
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "archiver.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), environ={})
    assert config.database_url == f"sqlite:///{tmp_path}/archive/archive.db"
    assert config.files_dir == tmp_path / "archive" / "files"
    assert config.default_database
    assert config.source_names() == ["qaves-main", "ip"]
    assert config.sources[1].base_url == "http://127.0.0.1:9999/prefix"
    assert config.sources[1].download is False


def test_defaults_apply_when_archive_table_is_absent(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), environ={})
    assert config.database_url.endswith("/archive/archive.db")
    assert config.sources == ()
    assert (config.max_file_size_mb, config.download_concurrency, config.download_per_source) == (512, 8, 4)


def test_download_limits_are_configurable(tmp_path: Path) -> None:
    text = "[archive]\nmax_file_size_mb = 20\ndownload_concurrency = 16\ndownload_per_source = 2\n"
    config = load_config(write(tmp_path, text), environ={})
    assert (config.max_file_size_mb, config.download_concurrency, config.download_per_source) == (20, 16, 2)


def test_environment_overrides_archive_table(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, GOOD),
        environ={"ARCHIVER_DATABASE_URL": "sqlite:///other.db", "ARCHIVER_FILES_DIR": "/srv/files"},
    )
    assert config.database_url == f"sqlite:///{tmp_path}/other.db"
    assert config.files_dir == Path("/srv/files")
    assert not config.default_database


def test_archiver_config_variable_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, GOOD)
    monkeypatch.setenv("ARCHIVER_CONFIG", str(path))
    assert load_config().path == path


def test_keys_are_read_for_selected_sources_and_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "ip.txt").write_text("ip-secret-key\n")
    monkeypatch.setenv("QAVES_KEY", "sk_qu_very_secret")
    config = load_config(write(tmp_path, GOOD))
    qaves, ip = config.resolve()
    assert qaves.api_key.get_secret_value() == "sk_qu_very_secret"
    assert qaves.key_origin == "$QAVES_KEY"
    assert qaves.base_url == "https://qaves.me"
    assert qaves.buckets == ["default", "Client Acme"]
    assert ip.api_key.get_secret_value() == "ip-secret-key"
    assert ip.key_origin == f"file {tmp_path / 'keys' / 'ip.txt'}"
    for shown in (repr(qaves), str(qaves), repr(ip), qaves.model_dump_json()):
        assert "very_secret" not in shown and "ip-secret-key" not in shown


def test_missing_key_variable_names_source_and_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QAVES_KEY", raising=False)
    config = load_config(write(tmp_path, GOOD))
    with pytest.raises(ConfigError, match=r"qaves-main: the API key variable \$QAVES_KEY is not set"):
        config.resolve(["qaves-main"])


def test_missing_key_file_names_source_and_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), environ={})
    with pytest.raises(ConfigError, match=r"ip: cannot read the API key file .*keys/ip.txt"):
        config.resolve(["ip"])


def test_unselected_sources_need_no_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QAVES_KEY", "k1234")
    config = load_config(write(tmp_path, GOOD))
    assert [s.name for s in config.resolve(["qaves-main"])] == ["qaves-main"]


def test_unknown_source_name_is_refused(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), environ={})
    with pytest.raises(ConfigError, match=r"no source named 'nope' \(configured: qaves-main, ip\)"):
        config.select(["nope"])


SOURCE = 'name = "s"\nprovider = "qaves"\napi_key_env = "K"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[archive\n", r"not valid TOML"),
        (
            "[[sources]]\n" + SOURCE.replace("qaves", "midjourney"),
            r"sources\[0\]\.provider: unknown provider 'midjourney' \(one of qaves, aurous, imaginepro, apimall\)",
        ),
        (
            "[[sources]]\n" + SOURCE + "[[sources]]\n" + SOURCE,
            r"sources\[1\]\.name: duplicate source name 's'",
        ),
        (
            "[[sources]]\n" + SOURCE + 'download = "yes"\n',
            r"sources\[0\]\.download: Input should be a valid boolean",
        ),
        ("[[sources]]\n" + SOURCE + "interval = 15\n", None),
        (
            "[[sources]]\n" + SOURCE + 'interval = "soon"\n',
            r"sources\[0\]\.interval: 'soon' is not a duration",
        ),
        ("[[sources]]\n" + SOURCE + 'colour = "red"\n', r"sources\[0\]\.colour: unknown key"),
        (
            "[[sources]]\n" + 'name = "s"\nprovider = "qaves"\n',
            r"sources\[0\]: set exactly one of api_key_env or api_key_file",
        ),
        (
            "[[sources]]\n" + SOURCE + 'api_key_file = "k"\n',
            r"set exactly one of api_key_env or api_key_file",
        ),
        (
            "[[sources]]\n" + SOURCE.replace('"s"', '"bad name!"'),
            r"sources\[0\]\.name: 'bad name!' may hold only letters",
        ),
        (
            "[[sources]]\n" + 'provider = "qaves"\napi_key_env = "K"\n',
            r"sources\[0\]\.name: required key is missing",
        ),
        (
            "[[sources]]\n" + SOURCE.replace("qaves", "aurous") + 'buckets = ["x"]\n',
            r"buckets: not an option of provider 'aurous'",
        ),
        (
            "[[sources]]\n" + SOURCE + "buckets = []\n",
            r"sources\[0\]\.buckets: must list at least one",
        ),
        (
            "[[sources]]\n" + SOURCE.replace("qaves", "imaginepro") + 'interval = "20h"\n',
            r"interval: 20h leaves no margin inside imaginepro's 1d window; use at most 12h",
        ),
        (
            "[[sources]]\n" + SOURCE + 'base_url = "ftp://x"\n',
            r"sources\[0\]\.base_url: 'ftp://x' is not an http\(s\) URL",
        ),
        ('[archive]\ndatabase_url = "mysql://x/y"\n', r"unsupported database 'mysql'"),
        ('[archive]\ndatabase_url = "not a url"\n', r"'not a url' is not a database URL"),
        ("[archive]\ndatabase_url = 5\n", r"archive\.database_url: Input should be a valid string"),
        (
            "[archive]\nmax_file_size_mb = 0\n",
            r"archive\.max_file_size_mb: Input should be greater than or equal to 1",
        ),
        ("[archiv]\n", r"unknown table or key 'archiv'"),
        ("sources = 3\n", r"sources: must be an array of tables"),
    ],
)
def test_bad_config_gives_one_line_naming_file_and_key(
    tmp_path: Path, text: str, expected: str | None
) -> None:
    path = write(tmp_path, text)
    if expected is None:
        load_config(path, environ={})
        return
    with pytest.raises(ConfigError) as raised:
        load_config(path, environ={})
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert re.search(expected, message), message


def test_missing_config_file_says_how_to_provide_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no config file \(pass --config PATH, set \$ARCHIVER_CONFIG"):
        load_config(tmp_path / "absent.toml", environ={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("1h30m", timedelta(minutes=90)),
        ("90s", timedelta(seconds=90)),
        ("1d", timedelta(days=1)),
        (45, timedelta(seconds=45)),
    ],
)
def test_durations(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected
