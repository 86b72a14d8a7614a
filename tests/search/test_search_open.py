from __future__ import annotations

from pathlib import Path

import pytest

from yujing.errors import ConfigError
from yujing.search.open import open_store, server_options, sqlite_path
from yujing.search.sqlite_store import SqliteStore


def test_sqlite_urls() -> None:
    assert sqlite_path("sqlite:///data/store.db") == Path("data/store.db")
    assert sqlite_path("sqlite:////abs/store.db") == Path("/abs/store.db")
    assert sqlite_path("data/store.db") == Path("data/store.db")


def test_open_sqlite(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/x/store.db")
    assert isinstance(store, SqliteStore)
    assert store.count_posts() == 0
    store.close()


def test_server_url_with_userinfo_and_options() -> None:
    opts = server_options("opensearch+https://ana%40x:p%3Aw@search.local:9201?ca=/ca.pem&verify=false", {})
    assert (opts.flavour, opts.url) == ("opensearch", "https://search.local:9201")
    assert (opts.user, opts.password) == ("ana@x", "p:w")
    assert (opts.ca, opts.verify) == ("/ca.pem", False)
    assert "p:w" not in opts.redacted()


def test_server_credentials_from_env() -> None:
    opts = server_options("elasticsearch://h", {"YUJING_STORE_USER": "u", "YUJING_STORE_PASSWORD": "pw",
                                                 "YUJING_STORE_API_KEY": "k"})
    assert (opts.url, opts.user, opts.password, opts.api_key) == ("http://h:9200", "u", "pw", "k")


@pytest.mark.parametrize(("url", "says"), [
    ("mysql://h:1", "unknown scheme"),
    ("opensearch://h:port", "port is not a number"),
    ("opensearch://h:9200?colour=red", "unknown option 'colour'"),
    ("sqlite:/x.db", "three slashes"),
    ("", "empty"),
])
def test_bad_urls_name_the_url_and_the_fix(url: str, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        open_store(url)
    assert says in str(err.value) and "e.g. sqlite:///" in str(err.value)


def test_password_not_echoed_in_errors() -> None:
    with pytest.raises(ConfigError) as err:
        open_store("opensearch://user:secret@h:9200?colour=red")
    assert "secret" not in str(err.value)
    with pytest.raises(ConfigError) as err:  # nor a key in the query
        open_store("opensearch://h:9200?api_key=sekrit-key&colour=red")
    assert "sekrit-key" not in str(err.value) and "unknown option 'colour'" in str(err.value)
