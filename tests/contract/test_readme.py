"""The README stays true: its command reference is click's current help, its images exist."""

import re
from pathlib import Path

from microtrace.cli.reference import replace_section

README = Path(__file__).resolve().parents[2] / "README.md"


def test_command_reference_is_current():
    text = README.read_text()
    assert replace_section(text) == text, "run: python -m microtrace.cli.reference README.md"


def test_every_image_in_the_readme_exists():
    text = README.read_text()
    for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (README.parent / target).is_file(), target
