"""Outputs never destroy what they should not: devices, FIFOs, sockets, what a symlink points at, the
inputs, a run's own files; a failed write leaves the old file and no temporary file."""

import errno
import os
import socket
import stat
import subprocess
import sys
import threading

import pytest
from safety import make_run, make_trace

from conftest import assert_refused, invoke
from microtrace.util import atomic
from microtrace.util.atomic import UnsafePath, write_atomic


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("outputs")
    run, _ = make_run(tmp)
    return run, make_trace(run, tmp / "step.json")


@pytest.mark.slow
def test_dev_null_is_written_in_place_and_stays_a_device(made):
    run, trace = made
    before = os.stat("/dev/null")
    for args in (["report", "-o"], ["export", "-f", "json", "-o"], ["trace", "-o"], ["attention", "--json"]):
        result = invoke(*args, "/dev/null", "--trace", trace)
        assert result.exit_code == 0, result.output
        after = os.stat("/dev/null")
        assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_a_fifo_with_a_reader_receives_the_bytes_and_stays_a_fifo(made, tmp_path):
    _, trace = made
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    result = invoke("export", "--trace", trace, "-f", "json", "-o", fifo)
    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert got and got[0] == trace.read_bytes()


def test_a_fifo_nobody_reads_is_refused_at_once(made, tmp_path):
    _, trace = made
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    assert_refused(invoke("export", "--trace", trace, "-f", "json", "-o", fifo), "nobody is reading")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_socket_and_a_directory_are_refused(made, tmp_path):
    _, trace = made
    path = tmp_path / "sock.html"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        assert_refused(invoke("report", "--trace", trace, "-o", path), "socket")
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
    folder = tmp_path / "folder.html"
    folder.mkdir()
    assert_refused(invoke("report", "--trace", trace, "-o", folder))
    assert folder.is_dir()


def test_a_symlink_to_a_file_is_refused_and_neither_is_touched(made, tmp_path):
    _, trace = made
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    for name, cmd in (("link.html", ["report"]), ("link.svg", ["graph"]), ("link.json", ["trace"])):
        link = tmp_path / name
        link.symlink_to(target)
        assert_refused(invoke(*cmd, "--trace", trace, "-o", link), "symbolic link")
        assert link.is_symlink() and target.read_text() == "keep me"
    dangling = tmp_path / "dangling.html"
    dangling.symlink_to(tmp_path / "nowhere")
    assert_refused(invoke("report", "--trace", trace, "-o", dangling), "symbolic link")
    assert not (tmp_path / "nowhere").exists()


def test_a_symlink_to_a_device_is_written_in_place(tmp_path):
    link = tmp_path / "out.txt"
    link.symlink_to("/dev/null")
    write_atomic(link, "discarded")
    assert link.is_symlink() and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_an_output_that_is_an_input_is_refused_before_any_work(made, tmp_path):
    run, trace = made
    before = trace.read_bytes()
    alias = tmp_path / "alias.json"
    alias.symlink_to(trace)
    for spelling in (trace, f"{trace.parent}/./{trace.name}"):
        assert_refused(invoke("trace", "--trace", trace, "-o", spelling), "also an input")
        assert_refused(invoke("export", "--trace", alias, "-f", "json", "-o", spelling), "also an input")
    assert trace.read_bytes() == before


@pytest.mark.parametrize(
    "args, victim",
    [
        (["trace", "--run", "{run}", "--step", "1", "-o", "{run}/config.json"], "config.json"),
        (
            ["trace", "--run", "{run}", "--step", "1", "-o", "{run}/checkpoints/step-000003.json"],
            "checkpoints/step-000003.json",
        ),
        (["gradflow", "--run", "{run}", "--step", "1", "-o", "{tmp}/f.png", "--csv", "{run}/losses.csv"], "losses.csv"),
        (["gradflow", "--run", "{run}", "--steps", "0:2", "-o", "{run}/losses.png"], "losses.csv"),  # its default CSV
        (["attention", "--run", "{run}", "--step", "1", "--json", "{run}/checkpoints/x.json"], None),
        (["report", "--trace", "{tmp}/t.json", "-o", "{run}/config.json"], "config.json"),
    ],
)
def test_an_output_over_a_runs_files_is_refused_before_any_work(made, tmp_path, args, victim):
    run, trace = made
    (tmp_path / "t.json").write_bytes(trace.read_bytes())
    files = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    result = invoke(*[a.format(run=run, tmp=tmp_path) for a in args])
    assert_refused(result, "a file of the run")
    assert "tracing" not in result.stderr  # refused before the slow part
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == files


def test_two_outputs_of_one_command_may_not_be_the_same_file(made, tmp_path):
    run, _ = made
    result = invoke("attention", "--run", run, "--step", "1", "-o", tmp_path / "a.png", "--json", tmp_path / "a.png")
    assert_refused(result, "same file")
    sheet = tmp_path / "e-sheet.png"
    sheet.symlink_to(tmp_path / "elsewhere.png")
    result = invoke("attention", "--run", run, "--steps", "0:2", "-o", tmp_path / "e.gif")
    assert_refused(result, "e-sheet.png", "symbolic link")  # the extra file is checked like -o, up front
    assert not (tmp_path / "e.gif").exists()


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(made, tmp_path, monkeypatch):
    _, trace = made
    out = tmp_path / "page.html"
    out.write_text("old")

    def disk_full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "replace", disk_full)
    assert_refused(invoke("report", "--trace", trace, "-o", out), "No space left")
    assert out.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]


def test_a_full_device_and_a_folder_that_is_a_file_are_one_line(made, tmp_path):
    _, trace = made
    assert_refused(invoke("export", "--trace", trace, "-f", "json", "-o", "/dev/full"), "No space left")
    (tmp_path / "file").write_text("x")
    assert_refused(invoke("report", "--trace", trace, "-o", tmp_path / "file" / "page.html"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file permissions")
def test_a_read_only_output_is_refused(made, tmp_path):
    _, trace = made
    out = tmp_path / "page.html"
    out.write_text("old")
    out.chmod(0o444)
    assert_refused(invoke("report", "--trace", trace, "-o", out), "read-only")
    assert out.read_text() == "old"


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temp_files_of_a_dead_writer_are_removed_on_the_next_write(tmp_path):
    out = tmp_path / "out.txt"
    stale = tmp_path / f".out.txt.{_dead_pid()}.0.tmp"
    alive = tmp_path / f".out.txt.{os.getppid()}.0.tmp"  # a writer still running: left alone
    other = tmp_path / f".other.txt.{_dead_pid()}.0.tmp"  # another file's: left alone
    for p in (stale, alive, other):
        p.write_text("half")
    write_atomic(out, "new")
    assert out.read_text() == "new"
    assert not stale.exists() and alive.exists() and other.exists()


def test_check_target_says_how_each_kind_of_path_is_written(tmp_path):
    (tmp_path / "f").write_text("x")
    os.mkfifo(tmp_path / "p")
    assert atomic.check_target(tmp_path / "new") == "file"
    assert atomic.check_target(tmp_path / "f") == "file"
    assert atomic.check_target(tmp_path / "p") == "stream"
    assert atomic.check_target("/dev/null") == "stream"
    with pytest.raises(UnsafePath):
        atomic.check_target(tmp_path)
