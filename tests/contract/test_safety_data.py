"""Downloaded data is pinned: makemore's names.txt must have its sha256, a differing or truncated
download is refused and never cached, an unusable cache is one line. A loopback server stands in for
the internet (MICROTRACE_MAKEMORE_URL)."""

import hashlib
import http.server
import os
import threading

import pytest

from conftest import assert_refused, invoke
from microtrace.engine import data
from microtrace.engine.data import DataError, load_dataset

GOOD = b"emma\nolivia\nava\n"


class _Server(http.server.ThreadingHTTPServer):
    """Serves `body` for any GET, announcing `length` bytes (more than it sends: a truncated response)."""

    def __init__(self, body, length=None):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(outer.length))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.body, self.length = body, length or len(body)
        # shutdown() waits for the loop to look again: every 50 ms rather than serve_forever's 0.5 s
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/names.txt"


@pytest.fixture
def pinned(monkeypatch, tmp_path):
    """GOOD pinned as makemore's bytes; the cache in tmp_path/cache."""
    monkeypatch.setattr(data, "MAKEMORE_SHA256", hashlib.sha256(GOOD).hexdigest())
    monkeypatch.setenv("MICROTRACE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "makemore-names.txt"


def _serve(monkeypatch, body, length=None):
    server = _Server(body, length)
    monkeypatch.setenv("MICROTRACE_MAKEMORE_URL", server.url)
    return server


def test_the_pinned_bytes_are_cached_and_used(pinned, monkeypatch):
    server = _serve(monkeypatch, GOOD)
    try:
        assert load_dataset("makemore").docs == ["emma", "olivia", "ava"]
    finally:
        server.shutdown()
    assert pinned.read_bytes() == GOOD


@pytest.mark.parametrize(
    "body, length",
    [(b"emma\nolivia\nevil\n", None), (GOOD[:7], len(GOOD)), (b"<html>proxy error</html>", None), (b"x" * 10**6, None)],
    ids=["different", "truncated", "error page", "huge"],
)
def test_a_download_that_is_not_the_pinned_file_is_refused_and_not_cached(pinned, monkeypatch, body, length):
    server = _serve(monkeypatch, body, length)
    try:
        with pytest.raises(DataError) as e:
            load_dataset("makemore")
        assert "could not download makemore's names.txt" in str(e.value) and "\n" not in str(e.value)
        result = invoke("train", "--data", "makemore", "--steps", "1", "--out", pinned.parent.parent / "run")
        assert_refused(result, "makemore")
    finally:
        server.shutdown()
    assert not pinned.parent.exists() or not any(pinned.parent.iterdir())


def test_a_changed_cached_file_is_refused(pinned, monkeypatch):
    pinned.parent.mkdir(parents=True)
    pinned.write_bytes(b"emma\nmallory\n")
    monkeypatch.setenv("MICROTRACE_MAKEMORE_URL", "http://127.0.0.1:9/never-fetched")
    assert_refused(
        invoke("train", "--data", "makemore", "--steps", "1", "--out", pinned.parent.parent / "run"), "sha256 differs"
    )


def test_a_cache_path_that_is_a_file_is_one_line(pinned, monkeypatch):
    pinned.parent.parent.mkdir(parents=True, exist_ok=True)
    pinned.parent.write_text("a file where the cache folder should be")
    server = _serve(monkeypatch, GOOD)
    try:
        assert_refused(
            invoke("train", "--data", "makemore", "--steps", "1", "--out", pinned.parent.parent / "run"),
            "cannot cache",
            "MICROTRACE_CACHE",
        )
    finally:
        server.shutdown()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_cache_is_one_line(pinned, monkeypatch):
    pinned.parent.mkdir(parents=True)
    pinned.parent.chmod(0o555)
    server = _serve(monkeypatch, GOOD)
    try:
        assert_refused(
            invoke("train", "--data", "makemore", "--steps", "1", "--out", pinned.parent.parent / "run"),
            "cannot cache",
        )
    finally:
        server.shutdown()
        pinned.parent.chmod(0o755)


def test_a_file_url_is_checked_the_same_way(pinned, monkeypatch, tmp_path):
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_bytes(GOOD)
    bad.write_bytes(GOOD + b"x\n")
    monkeypatch.setenv("MICROTRACE_MAKEMORE_URL", bad.as_uri())
    with pytest.raises(DataError):
        load_dataset("makemore")
    monkeypatch.setenv("MICROTRACE_MAKEMORE_URL", good.as_uri())
    assert load_dataset("makemore").sha256 == hashlib.sha256(GOOD).hexdigest()
