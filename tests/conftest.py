"""Fixtures; the float64 reference helpers live in reference.py."""

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261123)
