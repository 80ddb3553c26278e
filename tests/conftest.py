"""Shared fixtures: small datasets and trainers, and where the microGPT reference files live."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
MAKEMORE = SHARED / "makemore-names.txt"
PUBLISHED_LOG = SHARED / "microgpt-published.log"

if str(ROOT) not in sys.path:  # bench.reference (microGPT's plain engine) is the yardstick in tests too
    sys.path.insert(0, str(ROOT))

NAMES = ["emma", "olivia", "ava", "isabella", "sophia", "mia", "amelia", "harper", "evelyn", "abigail"]
SMALL = dict(n_embd=8, n_head=2, n_layer=1, block_size=8)


@pytest.fixture
def names():
    return list(NAMES)


def needs_shared():
    return pytest.mark.skipif(
        not (MAKEMORE.exists() and PUBLISHED_LOG.exists()),
        reason="microGPT's dataset and published log are not beside the project (../shared/data)",
    )
