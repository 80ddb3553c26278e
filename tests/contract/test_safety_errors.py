"""The one-line-error contract on every command: bad input is one `Error:` line on stderr and exit 2,
for a missing file, a file that is not what it should be, and a write that cannot happen."""

import pytest

from conftest import assert_refused, invoke
from microtrace.cli import cli

# One bad input per command; every registered command must be here (test_every_command_is_covered).
CASES = {
    "train": ["--data", "{tmp}/missing.txt", "--out", "{tmp}/run"],
    "sample": ["--run", "{tmp}/missing"],
    "trace": ["--trace", "{tmp}/garbage.json", "-o", "{tmp}/out.json"],
    "export": ["--trace", "{tmp}/garbage.json", "-o", "{tmp}/out.gexf"],
    "inspect": ["--trace", "{tmp}/garbage.json"],
    "graph": ["--trace", "{tmp}/garbage.json", "-o", "{tmp}/out.svg"],
    "attention": ["--trace", "{tmp}/garbage.json", "-o", "{tmp}/out.png"],
    "report": ["--trace", "{tmp}/garbage.json", "-o", "{tmp}/out.html"],
    "gradflow": ["--trace", "{tmp}/garbage.json", "-o", "{tmp}/out.png"],
    "gradcheck": ["--run", "{tmp}/missing", "--step", "0"],
    "doctor": ["--trace", "{tmp}/garbage.json"],
    "explore": ["--trace", "{tmp}/garbage.json", "-o", "{tmp}/out.html"],
    "film": ["--run", "{tmp}/missing", "-o", "{tmp}/out.html"],
}


def test_every_command_is_covered():
    assert set(cli.commands) <= set(CASES), sorted(set(cli.commands) - set(CASES))


@pytest.mark.parametrize("command", sorted(CASES))
def test_bad_input_is_one_line_and_exit_2(tmp_path, command):
    (tmp_path / "garbage.json").write_bytes(b"\x00\xffnot json")
    if command not in cli.commands:
        pytest.skip(f"no {command} command in this build")
    assert_refused(invoke(command, *[a.format(tmp=tmp_path) for a in CASES[command]]))
    assert not any(p.name.startswith("out") for p in tmp_path.iterdir())


@pytest.mark.parametrize("command", sorted(CASES))
def test_an_unknown_option_is_one_line_and_exit_2(command):
    if command not in cli.commands:
        pytest.skip(f"no {command} command in this build")
    assert_refused(invoke(command, "--no-such-option"), "--no-such-option")
