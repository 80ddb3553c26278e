"""Datasets: the default names, a local file, and makemore's names.txt downloaded once and cached."""

import functools
import hashlib
import http.server
import socket
import threading

import pytest
from click.testing import CliRunner

from microtrace.cli import cli
from microtrace.engine import data
from microtrace.engine.data import DataError, load_dataset

MAKEMORE_TEXT = "emma\nolivia\nava\n\nisabella\n"


def test_default_names_are_lowercase_unique_first_names():
    for dataset in (load_dataset(), load_dataset("names")):
        docs = dataset.docs
        assert 4000 < len(docs) < 7000  # the Census lists hold ~5k distinct first names
        assert all(doc == doc.lower() and doc.isalpha() for doc in docs)
        assert len(set(docs)) == len(docs)
        assert {"mary", "james", "linda"} <= set(docs)
        assert dataset.source == "names" and len(dataset.sha256) == 64


def test_a_file_follows_microgpts_reading_rules(tmp_path):
    path = tmp_path / "words.txt"
    path.write_bytes(b"  anna \r\n\r\n\tbob\n\n")
    dataset = load_dataset(str(path))
    assert dataset.docs == ["anna", "bob"]


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """An HTTP server on 127.0.0.1 serving names.txt (pinned as makemore's); `.requests` counts the GETs."""
    monkeypatch.setattr(data, "MAKEMORE_SHA256", hashlib.sha256(MAKEMORE_TEXT.encode()).hexdigest())
    root = tmp_path / "www"
    root.mkdir()
    (root / "names.txt").write_text(MAKEMORE_TEXT)
    requests = []

    class Counting(_Handler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Counting, directory=str(root)))
    # shutdown() waits for the loop to look again: every 50 ms rather than serve_forever's 0.5 s
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.requests = requests
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens: the connection is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/names.txt"


def test_makemore_is_downloaded_once_then_read_from_the_cache(tmp_path, monkeypatch, server):
    cache = tmp_path / "cache"
    monkeypatch.setenv("MICROTRACE_CACHE", str(cache))
    monkeypatch.setenv("MICROTRACE_MAKEMORE_URL", server.url + "/names.txt")
    first = load_dataset("makemore")
    assert first.docs == ["emma", "olivia", "ava", "isabella"]
    assert first.source == "makemore"
    assert (cache / "makemore-names.txt").read_text() == MAKEMORE_TEXT
    assert server.requests == ["/names.txt"]

    server.shutdown()
    server.server_close()
    monkeypatch.setenv("MICROTRACE_MAKEMORE_URL", closed_port_url())  # would fail if it were fetched
    second = load_dataset("makemore")
    assert second == first
    assert server.requests == ["/names.txt"]


@pytest.mark.parametrize("where", ["closed port", "missing file"])
def test_a_failed_download_is_a_one_line_error_and_caches_nothing(tmp_path, monkeypatch, server, where):
    cache = tmp_path / "cache"
    monkeypatch.setenv("MICROTRACE_CACHE", str(cache))
    url = closed_port_url() if where == "closed port" else server.url + "/nothing-here.txt"
    monkeypatch.setenv("MICROTRACE_MAKEMORE_URL", url)
    with pytest.raises(DataError) as e:
        load_dataset("makemore")
    message = str(e.value)
    assert message.startswith("could not download makemore's names.txt") and "a local file of names" in message
    assert "\n" not in message
    assert not (cache / "makemore-names.txt").exists()


def test_train_with_makemore_offline_exits_2_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("MICROTRACE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MICROTRACE_MAKEMORE_URL", closed_port_url())
    result = CliRunner().invoke(cli, ["train", "--data", "makemore", "--steps", "2", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: could not download makemore's names.txt")
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()
