"""The backend-neutral layers (``spectralcore.layers``) on NumPy float64, against independent
references: NumPy/SciPy eigendecompositions, square roots and covariances computed here, not
through spectralcore.

Stated tolerances (float64, eps = 0 unless said otherwise):
* whitened covariance YYᵀ/M = I: 1e-10 for the eigenbasis forwards; 1e-4 for ``mpa`` [5/5] and
  ``newton-schulz`` (5 steps), 1e-2 for ``mtp`` (degree 11) — their forward approximation
  errors at condition number 10;
* covariance pooling against ``scipy.linalg.sqrtm``: 1e-10 relative (eigenbasis), 1e-2 for
  ``newton-schulz`` and ``mpa`` on a 36-sample 8 × 8 covariance (their approximation error);
* running statistics equal a NumPy exponential moving average to 1e-12;
* evaluation output equals E_S (x − Eμ) to 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest

import spectralcore as sc
from spectralcore import layers as L
from spectralcore.layers import HybridSchedule

sla = pytest.importorskip("scipy.linalg")

C, G = 8, 2
D = C // G


# ------------------------------------------------------------------------------ references


def correlated(
    rng: np.random.Generator, n: int, c: int = C, spatial: tuple[int, ...] = (3, 3), condition: float = 10.0
) -> np.ndarray:
    """(n, c, *spatial) features whose channels are mixed with singular values 1 … √condition."""
    q, _ = np.linalg.qr(rng.standard_normal((c, c)))
    mix = q * np.sqrt(np.linspace(1.0, condition, c))
    z = rng.standard_normal((n, c) + spatial)
    return np.einsum("ij,nj...->ni...", mix, z) + rng.standard_normal((1, c) + (1,) * len(spatial))


def grouped(x: np.ndarray, groups: int) -> np.ndarray:
    """(N, C, *spatial) → (G, d, N·prod(spatial)), written independently of the library."""
    n, c = x.shape[:2]
    d = c // groups
    cols = x.reshape(n, groups, d, -1)
    return np.concatenate([cols[i] for i in range(n)], axis=-1)  # (G, d, N·L), sample-major


def np_moments(X: np.ndarray):
    mu = X.mean(-1)
    Xc = X - mu[..., None]
    return mu, Xc, np.einsum("gim,gjm->gij", Xc, Xc) / X.shape[-1]


def np_invsqrt(A: np.ndarray) -> np.ndarray:
    w, V = np.linalg.eigh(A)
    return np.einsum("gij,gj,gkj->gik", V, 1 / np.sqrt(w), V)


def np_ridged(A: np.ndarray, eps: float, relative: bool = True) -> np.ndarray:
    """A + rI with the layers' ridge r = ε trace(A)/n per matrix (relative) or ε."""
    n = A.shape[-1]
    r = eps * np.trace(A, axis1=-2, axis2=-1) / n if relative else eps * np.ones(A.shape[:-2])
    return A + r[..., None, None] * np.eye(n)


def max_off_identity(cov: np.ndarray) -> float:
    return float(np.abs(cov - np.eye(cov.shape[-1])).max())


# ------------------------------------------------------------------------------ ZCA whitening

EXACT_FORWARD = 1e-10
METHODS = [  # (via, forward, backward, options, tolerance on |YYᵀ/M − I|)
    ("invsqrtm", "eigh", "exact", {}, EXACT_FORWARD),
    ("invsqrtm", "eigh", "taylor", {"degree": 9}, EXACT_FORWARD),
    ("invsqrtm", "mpa", "lyapunov", {}, 1e-4),
    ("invsqrtm", "newton-schulz", "newton-schulz", {}, 1e-4),
    ("invsqrtm", "mtp", "lyapunov", {}, 1e-2),
    ("eigh", "eigh", "exact", {}, EXACT_FORWARD),
    ("eigh", "eigh", "clip", {}, EXACT_FORWARD),
    ("eigh", "eigh", sc.methods.Taylor(degree=9, eps=1e-2), {}, EXACT_FORWARD),  # `eps` is the layer's
    ("eigh", "eigh", "pade", {}, EXACT_FORWARD),
    ("eigh", "eigh", "power-iteration", {"iterations": 19}, EXACT_FORWARD),
    ("eigh", "power-iteration", "power-iteration", {"energy": 0.0}, EXACT_FORWARD),
]


@pytest.mark.parametrize(
    "via, forward, backward, options, tol", METHODS, ids=[f"{v}-{f}-{b}" for v, f, b, _, _ in METHODS]
)
def test_whitened_batch_has_identity_covariance(rng, via, forward, backward, options, tol):
    x = correlated(rng, 64)
    y, _ = L.zca_whitening(x, L.zca_state(C, groups=G), eps=0.0, via=via, forward=forward, backward=backward, **options)
    _, _, cov = np_moments(grouped(y, G))
    assert max_off_identity(cov) < tol
    assert float(np.abs(grouped(y, G).mean(-1)).max()) < 1e-10


@pytest.mark.parametrize("relative", [True, False])
def test_whitening_is_zca_not_pca(rng, relative):
    """Y = V Λ^{-1/2} Vᵀ X̃ (symmetric S, keeps the data's orientation), with the ridge r on the
    diagonal (ε trace(M)/d, or ε with relative=False): YYᵀ/M = M (M + rI)^{-1}."""
    x, eps = correlated(rng, 64), 1e-3
    y, state = L.zca_whitening(x, L.zca_state(C, groups=G), eps=eps, relative=relative, momentum=1.0)
    _, Xc, M = np_moments(grouped(x, G))
    S = np_invsqrt(np_ridged(M, eps, relative))
    np.testing.assert_allclose(grouped(y, G), S @ Xc, atol=1e-12)
    np.testing.assert_allclose(state.whitening, S, atol=1e-12)
    _, _, cov = np_moments(grouped(y, G))
    np.testing.assert_allclose(cov, M @ np.linalg.inv(np_ridged(M, eps, relative)), atol=1e-12)


def test_power_iteration_forward_truncates_to_accepted_subspace(rng):
    """NeurIPS 2019 Alg. 1: with the energy condition at 10%, only the leading directions are
    kept and the output covariance is the projector onto them (rank = accepted count)."""
    x = correlated(rng, 64, condition=100.0)
    y, _ = L.zca_whitening(
        x,
        L.zca_state(C, groups=G),
        eps=0.0,
        via="eigh",
        forward="power-iteration",
        backward="power-iteration",
        energy=0.1,
    )
    _, Xc, M = np_moments(grouped(x, G))
    _, _, cov = np_moments(grouped(y, G))
    for g in range(G):
        w, V = np.linalg.eigh(M[g])
        captured_before = np.concatenate([[0.0], np.cumsum(w[::-1])[:-1]]) / w.sum()
        keep = int(np.sum(captured_before < 0.9))
        assert 1 <= keep < D
        P = V[:, -keep:] @ V[:, -keep:].T
        np.testing.assert_allclose(cov[g], P, atol=1e-8)


def test_running_statistics_and_eval_mode(rng):
    """Momentum updates equal a NumPy EMA; eval whitens with the running statistics exactly."""
    m, eps = 0.3, 1e-4
    state = L.zca_state(C, groups=G)
    mean_ref, cov_ref, white_ref = np.zeros((G, D)), np.tile(np.eye(D), (G, 1, 1)), np.tile(np.eye(D), (G, 1, 1))
    for _ in range(4):
        x = correlated(rng, 32)
        _, state = L.zca_whitening(x, state, eps=eps, momentum=m)
        mu, _, M = np_moments(grouped(x, G))
        mean_ref = (1 - m) * mean_ref + m * mu
        cov_ref = (1 - m) * cov_ref + m * M
        white_ref = (1 - m) * white_ref + m * np_invsqrt(np_ridged(M, eps))
    for got, want in zip(state, (mean_ref, cov_ref, white_ref)):
        np.testing.assert_allclose(got, want, atol=1e-12)
    x = correlated(rng, 16)
    y, same = L.zca_whitening(x, state, train=False, eps=eps, eval_from="whitening")
    assert same is state
    np.testing.assert_allclose(grouped(y, G), white_ref @ (grouped(x, G) - mean_ref[..., None]), atol=1e-12)
    y_cov, _ = L.zca_whitening(x, state, train=False, eps=eps)  # default: from the running covariance
    want = np_invsqrt(np_ridged(cov_ref, eps)) @ (grouped(x, G) - mean_ref[..., None])
    np.testing.assert_allclose(grouped(y_cov, G), want, atol=1e-12)


def test_groups_group_size_and_affine(rng):
    x = correlated(rng, 16, spatial=(2,))
    by_groups, _ = L.zca_whitening(x, L.zca_state(C, groups=4))
    by_size, _ = L.zca_whitening(x, L.zca_state(C, group_size=2))
    np.testing.assert_array_equal(by_groups, by_size)
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    y, _ = L.zca_whitening(x, L.zca_state(C, groups=4), weight=gamma, bias=beta)
    np.testing.assert_allclose(y, by_groups * gamma[:, None] + beta[:, None], atol=1e-14)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: L.zca_state(8, groups=3), "dividing num_features=8"),
        (lambda: L.zca_state(8, groups=2, group_size=4), "not both"),
        (lambda: L.zca_whitening(np.zeros((4, 6)), L.zca_state(8)), r"shape \(N, 8, \.\.\.\)"),
        (lambda: L.zca_whitening(np.ones((4, 8)), L.zca_state(8), via="svd"), "`via` must be one of"),
        (lambda: L.zca_whitening(np.ones((4, 8)), L.zca_state(8), backward="nope"), "unknown backward method"),
        (lambda: L.zca_whitening(np.ones((4, 8)), L.zca_state(8), momentum=2.0), "`momentum` must be in"),
        (lambda: L.pca_denoising(np.ones((4, 8)), L.pca_state(8), k=9), r"`k` must be an int in \[1, 8\]"),
    ],
)
def test_errors_name_the_argument(call, message):
    with pytest.raises(sc.SpectralError, match=message):
        call()


def test_array_api_strict_runs_every_layer(rng):
    xps = pytest.importorskip("array_api_strict")
    x_np = correlated(rng, 16)
    x = xps.asarray(x_np)
    y, _ = L.zca_whitening(x, L.zca_state(C, groups=G, like=x), eps=0.0)
    np.testing.assert_allclose(np.asarray(y), L.zca_whitening(x_np, L.zca_state(C, groups=G), eps=0.0)[0], atol=1e-12)
    assert L.pca_denoising(x, L.pca_state(C, like=x), k=2)[0].shape == x.shape
    assert L.covariance_pooling(x, triu=True).shape == (16, C * (C + 1) // 2)
    assert L.wct(xps.reshape(x, (16, C, 9)), xps.reshape(x, (16, C, 9))).shape == (16, C, 9)


# ------------------------------------------------------------------------------ PCA denoising


def np_standardised(X, eps):
    """(X − μ)/√(σ² + ε mean(σ²)): the relative ridge of each group."""
    mu = X.mean(-1)
    var = ((X - mu[..., None]) ** 2).mean(-1)
    return (X - mu[..., None]) / np.sqrt(var + eps * var.mean(-1, keepdims=True))[..., None]


def test_pca_keeps_top_k_eigenvectors(rng):
    x, eps = correlated(rng, 64, condition=50.0), 1e-5
    y, state = L.pca_denoising(x, L.pca_state(C, groups=G), k=2, preserve=None, eps=eps, momentum=1.0)
    Z = np_standardised(grouped(x, G), eps)
    for g in range(G):
        w, V = np.linalg.eigh(Z[g] @ Z[g].T / Z.shape[-1])
        P = V[:, -2:] @ V[:, -2:].T
        np.testing.assert_allclose(grouped(y, G)[g], P @ Z[g], atol=1e-10)
        np.testing.assert_allclose(state.projector[g], P, atol=1e-10)


@pytest.mark.parametrize("preserve", [0.5, 0.9, 0.99])
def test_pca_preserve_keeps_the_fewest_holding_that_variance(rng, preserve):
    x = correlated(rng, 64, condition=50.0)
    _, state = L.pca_denoising(x, L.pca_state(C), k=None, preserve=preserve, forward="eigh", momentum=1.0)
    Z = np_standardised(grouped(x, 1), 1e-5)[0]
    w = np.linalg.eigvalsh(Z @ Z.T / Z.shape[-1])[::-1]
    e = int(np.argmax(np.cumsum(w) / w.sum() >= preserve)) + 1  # smallest e with γ_e ≥ preserve
    assert round(float(np.trace(state.projector[0]))) == e


def test_pca_eval_uses_running_statistics(rng):
    state, eps = L.pca_state(C), 1e-5
    for _ in range(3):
        _, state = L.pca_denoising(correlated(rng, 32), state, k=3, momentum=0.5)
    x = correlated(rng, 8)
    y, _ = L.pca_denoising(x, state, train=False, k=3)
    X = grouped(x, 1)
    ridge = eps * np.mean(state.variance, axis=-1, keepdims=True)
    Z = (X - state.mean[..., None]) / np.sqrt(state.variance + ridge)[..., None]
    np.testing.assert_allclose(grouped(y, 1), state.projector @ Z, atol=1e-12)


# ------------------------------------------------------------------------------ covariance pooling


def np_pool_covariance(x):
    X = x.reshape(x.shape[0], x.shape[1], -1)
    return np.stack([np.cov(s, bias=True) for s in X])


@pytest.mark.parametrize(
    "forward, backward, tol",
    [
        ("eigh", "exact", 1e-10),
        ("eigh", "pade", 1e-10),
        ("newton-schulz", "newton-schulz", 1e-2),
        ("mpa", "lyapunov", 1e-2),
    ],
)
def test_covariance_pooling_square_root(rng, forward, backward, tol):
    x, eps = correlated(rng, 3, spatial=(6, 6)), 1e-3
    P = np_ridged(np_pool_covariance(x), eps)
    want = np.stack([np.real(sla.sqrtm(p)) for p in P])
    Q = L.covariance_pooling(x, eps=eps, forward=forward, backward=backward)
    assert np.linalg.norm(Q - want) / np.linalg.norm(want) < tol
    v = L.covariance_pooling(x, eps=eps, triu=True, forward=forward, backward=backward)
    rows, cols = np.triu_indices(C)
    np.testing.assert_array_equal(v, Q[:, rows, cols])


def test_covariance_pooling_matrix_power(rng):
    x, eps = correlated(rng, 2, spatial=(5, 5)), 1e-3
    P = np_ridged(np_pool_covariance(x), eps)
    w, V = np.linalg.eigh(P)
    want = np.einsum("nij,nj,nkj->nik", V, w**0.3, V)
    np.testing.assert_allclose(L.covariance_pooling(x, power=0.3, eps=eps), want, atol=1e-10)
    np.testing.assert_allclose(L.covariance_pooling(x, power=1.0, eps=eps), P, atol=1e-12)


# ------------------------------------------------------------------------------ WCT


def test_wct_matches_style_mean_and_covariance(rng):
    content = correlated(rng, 1, c=3, spatial=(400,))[0]
    style = correlated(rng, 1, c=3, spatial=(300,), condition=30.0)[0] * 2 + 5
    out = L.wct(content, style, eps=0.0)
    np.testing.assert_allclose(out.mean(-1), style.mean(-1), atol=1e-10)
    np.testing.assert_allclose(np.cov(out, bias=True), np.cov(style, bias=True), atol=1e-10)
    # eqs. 30-33 written out with SciPy's square roots
    cc, cs = np.cov(content, bias=True), np.cov(style, bias=True)
    want = np.real(sla.sqrtm(cs)) @ np.linalg.inv(np.real(sla.sqrtm(cc))) @ (content - content.mean(-1, keepdims=True))
    np.testing.assert_allclose(out, want + style.mean(-1, keepdims=True), atol=1e-9)
    half = L.wct(content, style, eps=0.0, alpha=0.25)
    np.testing.assert_allclose(half, 0.25 * out + 0.75 * content, atol=1e-12)
    np.testing.assert_allclose(np.cov(L.whiten(content, eps=0.0), bias=True), np.eye(3), atol=1e-10)


# ------------------------------------------------------------------------------ hybrid schedule


def test_hybrid_switches_by_epoch_once():
    s = HybridSchedule(switch_epoch=2)
    assert s.method == {"forward": "newton-schulz", "backward": "newton-schulz"}
    assert [s.step(e) for e in range(5)] == [True, False, True, False, False]
    assert s.switched_at == 2 and s.method == {"forward": "eigh", "backward": "pade"}


def test_hybrid_switches_by_condition(rng):
    s = HybridSchedule(max_condition=50.0)
    bad = np.diag([1.0, 1e-6])[None]
    good = np.stack([np.diag([1.0, 0.1]), np.diag([1.0, 0.05])])
    assert s.step(0)  # the first call: configure the layers with `first`
    s.observe(bad)
    assert not s.step(1) and not s.switched
    s.observe(good)
    assert s.epoch_condition == pytest.approx(np.sqrt(10 * 20))
    assert s.step(2) and s.switched_at == 2


def test_condition_number_and_schedule_errors(rng):
    A = np.cov(rng.standard_normal((4, 50)))
    assert float(L.condition_number(A)) == pytest.approx(np.linalg.cond(A), rel=1e-10)
    assert float(L.condition_number(np.diag([1.0, 0.0]))) == np.inf
    with pytest.raises(sc.SpectralError, match="needs `switch_epoch` or `max_condition`"):
        HybridSchedule()


def test_hybrid_method_runs_the_layers(rng):
    """Both phases' configurations are valid for the square-root-based layers."""
    x = correlated(rng, 32)
    s = HybridSchedule(switch_epoch=1)
    for epoch in range(2):
        s.step(epoch)
        y, _ = L.zca_whitening(x, L.zca_state(C, groups=G), eps=0.0, **s.method)
        assert max_off_identity(np_moments(grouped(y, G))[2]) < 1e-4
        assert np.all(np.isfinite(L.covariance_pooling(x, **s.method)))
