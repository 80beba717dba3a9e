"""Units: every op and built-in method is equivariant under A → cA (DESIGN.md, "Units and orders").

f(cA) = c^p f(A) and gA(cA) = c^(p−1) gA(A) to rounding for c from 1e-8 to 1e8 in float64, so a
method's error against the exact result is the same at every scale. Exact gradients come from
float64 closed forms written here in NumPy (Daleckii–Krein divided differences), not from
spectralcore. The papers' absolute thresholds (``relative=False``) are shown to break it, and
the layers' relative ridges to whiten data of any scale.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import spectralcore as sc
from reference import rel_err, with_spectrum
from spectralcore.layers import covariance_pooling, pca_denoising, pca_state, wct, zca_state, zca_whitening

SCALES = (1e-8, 1e-4, 1.0, 1e4, 1e8)
SPECTRUM = np.linspace(1.0, 4.0, 6)  # separated: gap 0.6
EQUIVARIANT = 1e-10  # relative error of c^(1−p) gA(cA) against gA(A)


def builtin(kind: str) -> list[type]:
    return [i.cls for i in sc.methods(kind) if i.cls.__module__.startswith("spectralcore")]


EIGH_BACKWARDS = builtin("eigh-backward")
BY_NAME = {c.name: c for c in EIGH_BACKWARDS}
SQRTM_FORWARDS = [c.name for c in builtin("sqrtm-forward")]
SQRTM_BACKWARDS = [c.name for c in builtin("sqrtm-backward")] + EIGH_BACKWARDS  # eigh ones: the eigenvector path


def label(method: str | type) -> str:
    return method if isinstance(method, str) else f"eigh-{method.name}"


@pytest.fixture(scope="module")
def case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A, G, k): A with spectrum 1 … 4, a cotangent G and eigenvector weights k."""
    rng = np.random.default_rng(22)
    n = SPECTRUM.size
    return with_spectrum(rng, SPECTRUM), rng.standard_normal((n, n)), rng.standard_normal(n)


def divided_differences(w: np.ndarray, f, df) -> np.ndarray:
    """Γ_ij = (f(λi) − f(λj))/(λi − λj), f′(λi) on the diagonal (separated spectra only)."""
    d = w[:, None] - w[None, :]
    same = d == 0
    return np.where(same, df(w)[:, None], (f(w)[:, None] - f(w)[None, :]) / np.where(same, 1, d))


def daleckii_krein(a: np.ndarray, g: np.ndarray, f, df) -> np.ndarray:
    """gA = V (Γ ∘ Vᵀ sym(G) V) Vᵀ, the exact gradient of ⟨G, f(A)⟩."""
    w, v = np.linalg.eigh(a)
    return v @ (divided_differences(w, f, df) * (v.T @ ((g + g.T) / 2) @ v)) @ v.T


def eigh_gradient(a: np.ndarray, g: np.ndarray, k: np.ndarray, backward) -> np.ndarray:
    """gA of L = ⟨k/c, λ⟩ + ⟨G, V diag(k) Vᵀ⟩ at a = cA, times c: c-independent if equivariant
    (the projector-type loss does not depend on the eigenvectors' signs)."""
    c = np.max(np.abs(np.linalg.eigvalsh(a)))
    (_, V), pullback = sc.vjp(sc.eigh, a, backward=backward)
    return c * pullback((k / c, (g + g.T) @ V * k))


def exact_eigh_gradient(a: np.ndarray, g: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The same loss differentiated in closed form: ⟨G, V diag(k) Vᵀ⟩ = ⟨G, h(A)⟩ for the
    function h(λi) = ki, whose Daleckii–Krein kernel is (ki − kj)/(λi − λj) (ties excluded)."""
    w, v = np.linalg.eigh(a)
    c = np.max(np.abs(w))
    d = w[:, None] - w[None, :]
    kernel = np.where(d == 0, 0.0, (k[:, None] - k[None, :]) / np.where(d == 0, 1, d))
    inner = kernel * (v.T @ ((g + g.T) / 2) @ v) + np.diag(k / c)
    return c * v @ inner @ v.T


@pytest.mark.parametrize("backward", EIGH_BACKWARDS, ids=label)
def test_eigh_backward_is_equivariant(case, backward):
    a, g, k = case
    w1 = sc.eigh(a)[0]
    base = eigh_gradient(a, g, k, backward())
    base_error = rel_err(base, exact_eigh_gradient(a, g, k))
    for c in SCALES:
        np.testing.assert_allclose(sc.eigh(c * a, backward=backward())[0], c * w1, rtol=1e-13)
        got = eigh_gradient(c * a, g, k, backward())
        assert rel_err(got, base) < EQUIVARIANT, c
        assert abs(rel_err(got, exact_eigh_gradient(c * a, g, k)) - base_error) < 1e-9 + 1e-6 * base_error, c


def test_power_iteration_forward_keeps_its_pairs_at_every_scale(rng):
    """Its breaking condition λi > eps·λmax rejects the same pairs of cA as of A."""
    a = with_spectrum(rng, [1e-6, 1e-5, 0.5, 1.0, 2.0])
    accepted = {int(sc.eigh(c * a, forward="power-iteration").accepted) for c in SCALES}
    assert accepted == {3}
    absolute = {int(sc.eigh(c * a, forward="power-iteration", relative=False).accepted) for c in SCALES}
    assert absolute == {0, 1, 3}  # c = 1e-8: every λ < eps; c = 1e-4: only λmax = 2e-4 > eps


def sqrtm_gradient(op, a, g, forward, backward, power):
    """(F(a), c^(1−p) gA(a)) for L = ⟨G, F(a)⟩, c = λmax(a)."""
    c = np.max(np.linalg.eigvalsh(a))
    backward = backward if isinstance(backward, str) else backward()
    out, pullback = sc.vjp(op, a, forward=forward, backward=backward)
    return out, c ** (1 - power) * pullback(g)


@pytest.mark.parametrize("backward", SQRTM_BACKWARDS, ids=label)
@pytest.mark.parametrize("forward", SQRTM_FORWARDS)
@pytest.mark.parametrize("op,power", [(sc.sqrtm, 0.5), (sc.invsqrtm, -0.5)], ids=["sqrtm", "invsqrtm"])
def test_sqrtm_is_equivariant(case, op, power, forward, backward):
    a, g, _ = case
    exact = daleckii_krein(a, g, lambda x: x**power, lambda x: power * x ** (power - 1))
    out, base = sqrtm_gradient(op, a, g, forward, backward, power)
    base_error = rel_err(base, exact)
    for c in SCALES:
        got_out, got = sqrtm_gradient(op, c * a, g, forward, backward, power)
        assert rel_err(got_out, c**power * out) < EQUIVARIANT, c
        assert rel_err(got, base) < EQUIVARIANT, c
        exact_c = c ** (1 - power) * daleckii_krein(c * a, g, lambda x: x**power, lambda x: power * x ** (power - 1))
        assert abs(rel_err(got, exact_c) - base_error) < 1e-9 + 1e-6 * base_error, c


FUNCTIONS = {  # name: (op, its arguments after A, f, f′, p with f(cA) = c^p f(A) + const)
    "power 0.3": (sc.matrix_power, (0.3,), lambda x: x**0.3, lambda x: 0.3 * x**-0.7, 0.3),
    "power -0.5": (sc.matrix_power, (-0.5,), lambda x: x**-0.5, lambda x: -0.5 * x**-1.5, -0.5),
    "power 2": (sc.matrix_power, (2,), lambda x: x**2, lambda x: 2 * x, 2.0),
    "cube": (sc.matrix_function, (lambda x: x**3, lambda x: 3 * x**2), lambda x: x**3, lambda x: 3 * x**2, 3.0),
    "logm": (sc.logm, (), np.log, lambda x: 1 / x, 0.0),  # log(cA) = log A + log(c) I
}


@pytest.mark.parametrize(
    "spectrum", [SPECTRUM, np.array([1.0, 1.0 + 1e-9, 2.0, 3.0, 3.0, 4.0])], ids=["separated", "ties"]
)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_matrix_functions_are_equivariant(rng, name, spectrum):
    op, args, f, df, power = FUNCTIONS[name]
    a = with_spectrum(rng, spectrum)
    g = rng.standard_normal(a.shape)
    out, pullback = sc.vjp(op, a, *args)
    base = pullback(g)
    if spectrum is SPECTRUM:
        assert rel_err(base, daleckii_krein(a, g, f, df)) < 1e-12
    shift = (lambda c: math.log(c) * np.eye(a.shape[0])) if name == "logm" else (lambda c: 0.0)
    for c in SCALES:
        got_out, pullback = sc.vjp(op, c * a, *args)
        assert rel_err(got_out - shift(c), c**power * out) < EQUIVARIANT, c
        assert rel_err(c ** (1 - power) * pullback(g), base) < EQUIVARIANT, c


def test_expm_matches_divided_differences_at_small_scales(rng):
    """exp(cA) has no power law, so its backward is checked against the closed form at each
    scale instead (c ≤ 1: exp overflows beyond c λmax ≈ 709); the divided differences are
    written as e^λj expm1(λi − λj)/(λi − λj), accurate for gaps down to c · 0.6 = 6e-9."""
    a = with_spectrum(rng, SPECTRUM)
    g = rng.standard_normal(a.shape)
    for c in SCALES[:3]:
        w, v = np.linalg.eigh(c * a)
        d = w[:, None] - w[None, :]
        same = d == 0
        kernel = np.exp(w)[None, :] * np.where(same, 1.0, np.expm1(d) / np.where(same, 1, d))
        exact = v @ (kernel * (v.T @ ((g + g.T) / 2) @ v)) @ v.T
        assert rel_err(sc.vjp(sc.expm, c * a)[1](g), exact) < 1e-12, c


@pytest.mark.parametrize(
    "backward,c,options",
    [
        ("taylor", 1e-4, {}),
        ("lorentzian", 1e-7, {}),
        ("power-iteration", 1e-6, {}),
        ("clip", 1e-4, {"threshold": 1e3}),
    ],
)
def test_absolute_thresholds_are_the_papers(case, backward, c, options):
    """relative=False keeps the absolute threshold: right at c = 1 and far off at small c."""
    a, g, k = case
    errors = {}
    for scale in (1.0, c):
        errors[scale] = {
            relative: rel_err(
                eigh_gradient(scale * a, g, k, BY_NAME[backward](relative=relative, **options)),
                exact_eigh_gradient(scale * a, g, k),
            )
            for relative in (True, False)
        }
    assert errors[1.0][False] < 0.5
    assert errors[c][False] > 0.5
    assert abs(errors[c][True] - errors[1.0][True]) < 1e-9 + 1e-6 * errors[1.0][True]


# layers: the ridges are ε trace(cov)/n by default, so whiteness does not depend on the data's units

DATA_SCALES = (1e-3, 1e-1, 1.0, 1e1, 1e3)


def whiteness(y: np.ndarray) -> float:
    """‖cov(Y) − I‖_F/√d for y (N, d)."""
    yc = y - y.mean(axis=0)
    cov = yc.T @ yc / y.shape[0]
    return float(np.linalg.norm(cov - np.eye(cov.shape[0])) / math.sqrt(cov.shape[0]))


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    rng = np.random.default_rng(5)
    return rng.standard_normal((512, 8)) @ np.diag(np.linspace(0.5, 2.0, 8))


def test_zca_whiteness_does_not_depend_on_scale(data):
    relative = [whiteness(zca_whitening(s * data, zca_state(8))[0]) for s in DATA_SCALES]
    assert max(relative) < 1e-4
    assert max(relative) - min(relative) < 1e-10
    absolute = [whiteness(zca_whitening(s * data, zca_state(8), relative=False)[0]) for s in DATA_SCALES]
    assert absolute[-1] < 1e-9 < 0.5 < absolute[0]  # the absolute ridge swamps data of scale 1e-3


def test_layers_are_equivariant(data):
    """Pooling (P + ε tr(P)/C I)^½ scales as s, WCT and PCA denoising outputs as the style's / 1."""
    x = np.reshape(data[:500], (10, 8, 50))
    style = data[::-1].T
    q1, t1 = covariance_pooling(x), wct(data.T, style)
    y1 = pca_denoising(x, pca_state(8), forward="eigh", backward="exact")[0]
    for s in DATA_SCALES:
        assert rel_err(covariance_pooling(s * x), s * q1) < 1e-12
        assert rel_err(wct(data.T, s * style), s * t1) < 1e-12
        assert rel_err(pca_denoising(s * x, pca_state(8), forward="eigh", backward="exact")[0], y1) < 1e-12
