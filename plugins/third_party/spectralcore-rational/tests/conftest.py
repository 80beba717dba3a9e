import pathlib
import sys

import numpy as np
import pytest

# helpers_rational.py sits next to this file; make it importable whatever the rootdir
# (these tests run alone or alongside spectralcore's own suite).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261124)
