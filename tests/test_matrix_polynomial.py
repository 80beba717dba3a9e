"""Paterson–Stockmeyer evaluation of matrix polynomials (spectralcore.matrix_polynomial): values
against p(λ) in Z's eigenbasis (float64 NumPy), zero coefficients and zero blocks included; the
product counts it states, against the products torch runs and against the scheme by all powers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spectralcore.matrix_polynomial import block_size, evaluate, evaluate_all, products


def symmetric_contraction(rng: np.random.Generator, n: int = 6, batch: int = 2) -> np.ndarray:
    """Symmetric Z with eigenvalues in [−1, 1] (‖Z‖₂ ≤ 1, as the iterative methods call it)."""
    Q = np.linalg.qr(rng.standard_normal((batch, n, n)))[0]
    return (Q * rng.uniform(-1, 1, (batch, 1, n))) @ Q.mT


def reference(Z: np.ndarray, coefficients) -> np.ndarray:
    """V p(Λ) Vᵀ: the polynomial of the eigenvalues, an evaluation independent of any power of Z."""
    w, V = np.linalg.eigh(Z)
    return (V * np.polynomial.polynomial.polyval(w, coefficients)[..., None, :]) @ V.mT


coefficient = st.one_of(st.just(0.0), st.floats(-3, 3, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(polynomials=st.lists(st.lists(coefficient, min_size=1, max_size=18), min_size=1, max_size=3))
def test_values_agree_with_the_eigenbasis(polynomials):
    Z = symmetric_contraction(np.random.default_rng(len(polynomials)))
    for coefficients, value in zip(polynomials, evaluate_all(np, Z, polynomials)):
        expected = reference(Z, coefficients)
        scale = max(sum(abs(c) for c in coefficients), 1.0)  # ‖p(Z)‖ ≤ Σ|c_k| for ‖Z‖ ≤ 1
        np.testing.assert_allclose(np.broadcast_to(value, Z.shape), expected, atol=1e-13 * scale)


@pytest.mark.parametrize(
    "coefficients",
    [
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0],  # every block zero but the top
        [1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 4.0, 5.0, 6.0],  # a zero middle block
        [0.0, 1.0, 0.5, 0.0, 0.0, 0.25, 0.0],  # zero leading coefficients in the blocks
        [3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # a constant
        [0.0] * 9,  # the zero polynomial
        [2.0, -1.0, 0.5, 0.25],  # a constant top block (degree = the block size)
    ],
)
def test_zero_coefficients_and_blocks(coefficients, rng):
    Z = symmetric_contraction(rng)
    value = np.broadcast_to(evaluate(np, Z, coefficients), Z.shape)
    np.testing.assert_allclose(value, reference(Z, coefficients), atol=1e-13)


def all_powers(*degrees: int) -> int:
    """Products of the scheme by every power Z², …, Z^d, shared (what mpa did before)."""
    return max(max(degrees) - 1, 0)


@pytest.mark.parametrize(
    "degrees, stated",
    [((11,), 5), ((100,), 18), ((5, 5), 4), ((6, 6), 4), ((3, 7), 4), ((7, 3), 4), ((1, 1), 0), ((10, 10), 6)],
)
def test_stated_products(degrees, stated):
    assert products(*degrees) == stated
    assert products(*degrees) <= all_powers(*degrees)


@pytest.mark.parametrize("degrees", [(11,), (5, 5), (3, 7), (10, 10), (20,), (2, 9, 4)])
def test_products_and_kernels_torch_runs(degrees, rng):
    """The products torch runs are the stated ones; every polynomial of degree d takes at most
    d element-wise passes beside them (one per term after each block's first)."""
    torch = pytest.importorskip("torch")
    from spectralcore.adapters.torch_timing import count_ops

    Z = torch.asarray(symmetric_contraction(rng))
    eye = torch.eye(Z.shape[-1], dtype=Z.dtype)
    polynomials = [list(rng.uniform(-1, 1, d + 1)) for d in degrees]
    counts = count_ops(lambda: evaluate_all(torch, Z, polynomials, eye))
    assert counts.matmuls == products(*degrees)
    assert counts.launches <= counts.matmuls + sum(degrees)
    for coefficients, value in zip(polynomials, evaluate_all(torch, Z, polynomials, eye)):
        np.testing.assert_allclose(value.numpy(), reference(Z.numpy(), coefficients), atol=1e-13)


def test_block_size_is_the_smallest_with_the_fewest_products():
    # [5/5]: s = 3 (Z², Z³, a step each) and s = 6 (Z² … Z⁵) both take 4; s = 3 takes 2 passes fewer
    assert block_size(5, 5) == 3
    assert block_size(11) == 3
