"""The torch modules (``spectralcore.adapters.torch_layers``): whitening per method in float32
against a float64 NumPy check, evaluation with the running statistics, state_dict round
trips, finite gradients on degenerate batches, covariance pooling and WCT, the hybrid switch.

Stated tolerances: |YYᵀ/M − I| computed in float64 NumPy from the float32 output: 1e-3 for
every method (float32 rounding at condition number 10, ε = 1e-5 contributes ≤ 1e-5), 1e-2
for ``mtp`` (its degree-11 forward error); eval output equals E_S (x − Eμ) to 1e-6; WCT
output covariance equals the style's to 1e-4 (eigh) and 5e-3 relative (``mpa``).

Degenerate batches (batch smaller than features, duplicated samples, identical samples):
every bounded method gives finite outputs and gradients; plain eigh autograd (``exact``)
and ``pade`` do not at exactly tied eigenvalues, which the tests also show.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import spectralcore as sc  # noqa: E402
from spectralcore.adapters.torch_layers import WCT, CovariancePooling, DecorrelatedBatchNorm, PCADenoising, ZCAWhitening  # noqa: E402
from spectralcore.layers import HybridSchedule  # noqa: E402

C, G = 8, 2
D = C // G


def correlated(rng, n, c=C, spatial=(3, 3), condition=10.0, dtype=torch.float32):
    q, _ = np.linalg.qr(rng.standard_normal((c, c)))
    mix = q * np.sqrt(np.linspace(1.0, condition, c))
    x = np.einsum("ij,nj...->ni...", mix, rng.standard_normal((n, c) + spatial)) + 3.0
    return torch.tensor(x, dtype=dtype)


def np_grouped_cov(y, groups):
    """float64 per-group covariance of an (N, C, *spatial) tensor, computed in NumPy."""
    a = y.detach().double().numpy()
    n, c = a.shape[:2]
    X = np.concatenate(list(a.reshape(n, groups, c // groups, -1)), axis=-1)
    Xc = X - X.mean(-1, keepdims=True)
    return np.einsum("gim,gjm->gij", Xc, Xc) / X.shape[-1], X.mean(-1)


ZCA_METHODS = [  # (kwargs, tolerance)
    (dict(), 1e-3),
    (dict(backward="taylor", degree=9), 1e-3),
    (dict(forward="mpa", backward="lyapunov"), 1e-3),
    (dict(forward="newton-schulz", backward="newton-schulz"), 1e-3),
    (dict(forward="mtp", backward="lyapunov"), 1e-2),
    (dict(via="eigh", backward="exact"), 1e-3),
    (dict(via="eigh", backward="clip"), 1e-3),
    (dict(via="eigh", backward=sc.methods.Taylor(degree=9, eps=1e-2)), 1e-3),
    (dict(via="eigh", backward="pade"), 1e-3),
    (dict(via="eigh", backward="power-iteration"), 1e-3),
    (dict(via="eigh", forward="power-iteration", backward="power-iteration", energy=0.0, eps=0.0), 1e-3),
]
IDS = ["-".join(str(v) for v in kw.values()) or "default" for kw, _ in ZCA_METHODS]


@pytest.mark.parametrize("kwargs, tol", ZCA_METHODS, ids=IDS)
def test_whitened_batch_has_identity_covariance_and_finite_gradients(rng, kwargs, tol):
    torch.manual_seed(0)
    layer = ZCAWhitening(C, groups=G, **kwargs)
    x = correlated(rng, 64).requires_grad_()
    y = layer(x)
    cov, mean = np_grouped_cov(y, G)
    assert np.abs(cov - np.eye(D)).max() < tol
    assert np.abs(mean).max() < 1e-4
    (y * torch.randn_like(y)).sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(layer.weight.grad).all()


def ridged(cov, eps=1e-5):
    """cov + ε trace(cov)/n I: the layers' default relative ridge, per matrix."""
    n = cov.shape[-1]
    return cov + eps * np.trace(cov, axis1=-2, axis2=-1)[..., None, None] / n * np.eye(n)


def test_eval_uses_running_statistics(rng):
    layer = ZCAWhitening(C, groups=G, momentum=0.5, eval_from="whitening")
    ref_mean, ref_white = np.zeros((G, D)), np.tile(np.eye(D), (G, 1, 1))
    for _ in range(3):
        x = correlated(rng, 32, dtype=torch.float64).float()
        layer(x)
        cov, mean = np_grouped_cov(x, G)
        w, V = np.linalg.eigh(ridged(cov))
        ref_mean = 0.5 * ref_mean + 0.5 * mean
        ref_white = 0.5 * ref_white + 0.5 * np.einsum("gij,gj,gkj->gik", V, w**-0.5, V)
    assert int(layer.num_batches_tracked) == 3
    np.testing.assert_allclose(layer.running_mean.numpy(), ref_mean, atol=1e-5)
    np.testing.assert_allclose(layer.running_whitening.numpy(), ref_white, atol=1e-4)
    layer.eval()
    x = correlated(rng, 5)
    with torch.no_grad():
        y = layer(x)
    Xg = x.reshape(5, G, D, -1).permute(1, 2, 0, 3).reshape(G, D, -1)
    want = layer.running_whitening @ (Xg - layer.running_mean[..., None])
    want = want.reshape(G, D, 5, -1).permute(2, 0, 1, 3).reshape(x.shape)
    torch.testing.assert_close(y, want * layer.weight[:, None, None] + layer.bias[:, None, None], atol=1e-6, rtol=0)
    before = [b.clone() for b in layer.buffers()]
    layer(x)
    assert all(torch.equal(a, b) for a, b in zip(before, layer.buffers())), "eval must not update the statistics"
    layer.eval_from = "covariance"  # the default: TPAMI 2021 Alg. 2, (E_M + rI)^{-1/2}
    with torch.no_grad():
        y = layer(x)
    w, V = np.linalg.eigh(ridged(layer.running_covariance.double().numpy()))
    S = torch.tensor(np.einsum("gij,gj,gkj->gik", V, w**-0.5, V), dtype=torch.float32)
    want = (S @ (Xg - layer.running_mean[..., None])).reshape(G, D, 5, -1).permute(2, 0, 1, 3).reshape(x.shape)
    torch.testing.assert_close(y, want * layer.weight[:, None, None] + layer.bias[:, None, None], atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "make", [lambda: ZCAWhitening(C, groups=G, backward="taylor"), lambda: PCADenoising(C, k=3)], ids=["zca", "pca"]
)
def test_state_dict_round_trip(rng, make):
    torch.manual_seed(1)
    a = make()
    with torch.no_grad():
        a.weight.mul_(2)
    for _ in range(3):
        a(correlated(rng, 16))
    b = make()
    b.load_state_dict(a.state_dict())
    for (name, t), (_, u) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(t, u), name
    x = correlated(rng, 16)
    a.eval(), b.eval()
    assert torch.equal(a(x), b(x))
    a.train(), b.train()
    a(x), b(x)
    assert all(torch.equal(t, u) for t, u in zip(a.state_dict().values(), b.state_dict().values()))


def degenerate_batches(rng):
    few = correlated(rng, 4, spatial=())  # 4 samples, 8 features: rank 3
    dup = correlated(rng, 3, spatial=()).repeat(6, 1)  # 18 samples, 3 distinct
    same = correlated(rng, 1, spatial=()).repeat(8, 1)  # all equal: zero covariance
    return {"batch<features": few, "duplicated": dup, "identical": same}


ROBUST = [
    dict(),
    dict(backward="taylor"),
    dict(forward="mpa", backward="lyapunov"),
    dict(forward="newton-schulz", backward="newton-schulz"),
    dict(via="eigh", backward="taylor"),
    dict(via="eigh", backward="clip"),
    dict(via="eigh", backward="power-iteration"),
    dict(via="eigh", forward="power-iteration", backward="power-iteration"),
]


@pytest.mark.parametrize("kwargs", ROBUST, ids=["-".join(map(str, k.values())) or "default" for k in ROBUST])
def test_gradients_finite_on_degenerate_batches(rng, kwargs):
    for name, x in degenerate_batches(rng).items():
        layer = ZCAWhitening(C, **kwargs)
        x = x.clone().requires_grad_()
        y = layer(x)
        (y * torch.randn_like(y)).sum().backward()
        assert torch.isfinite(y).all() and torch.isfinite(x.grad).all(), name
        assert torch.isfinite(layer.running_whitening).all(), name


@pytest.mark.parametrize("backward", ["exact", "pade"])
def test_plain_eigh_autograd_is_not_finite_on_degenerate_batches(rng, backward):
    """What the robust methods replace: 1/(λi − λj) at the tied ε eigenvalues (``pade`` is the
    exact rule in floating point, docs/methods/index.md, "Padé"); the test above would catch it."""
    x = degenerate_batches(rng)["identical"].requires_grad_()
    y = ZCAWhitening(C, via="eigh", backward=backward)(x)
    (y * torch.randn_like(y)).sum().backward()
    assert not torch.isfinite(x.grad).all()


def test_pca_denoising_module(rng):
    layer = PCADenoising(C, k=2, preserve=None, affine=False)
    x = correlated(rng, 64, condition=50.0).requires_grad_()
    y = layer(x)
    assert np.linalg.matrix_rank(y.detach().permute(1, 0, 2, 3).reshape(C, -1).double().numpy(), tol=1e-4) == 2
    (y * torch.randn_like(y)).sum().backward()
    assert torch.isfinite(x.grad).all()
    for name, xd in degenerate_batches(rng).items():
        xd = xd.clone().requires_grad_()
        y = PCADenoising(C, k=3)(xd)
        (y * torch.randn_like(y)).sum().backward()
        assert torch.isfinite(xd.grad).all(), name


def test_covariance_pooling_module(rng):
    sla = pytest.importorskip("scipy.linalg")
    x = correlated(rng, 3, spatial=(6, 6), dtype=torch.float64).requires_grad_()
    pool = CovariancePooling(triu=True, backward="pade")
    v = pool(x)
    assert v.shape == (3, C * (C + 1) // 2)
    P = [ridged(np.cov(s, bias=True)) for s in x.detach().numpy().reshape(3, C, -1)]
    rows, cols = np.triu_indices(C)
    want = np.stack([np.real(sla.sqrtm(p))[rows, cols] for p in P])
    np.testing.assert_allclose(v.detach().numpy(), want, atol=1e-9)
    v.sum().backward()
    assert torch.isfinite(x.grad).all()
    few = correlated(rng, 2, spatial=(2, 2)).requires_grad_()  # 4 positions < 8 channels
    for kw in (dict(), dict(forward="newton-schulz", backward="newton-schulz"), dict(backward="pade")):
        CovariancePooling(**kw)(few).sum().backward()
        assert torch.isfinite(few.grad).all(), kw
        few.grad = None


def test_wct_module(rng):
    content = correlated(rng, 1, c=3, spatial=(500,))[0].requires_grad_()
    style = correlated(rng, 1, c=3, spatial=(400,), condition=20.0)[0] * 0.5 + 1
    want = np.cov(style.double().numpy(), bias=True)
    exact = WCT()(content, style)
    np.testing.assert_allclose(np.cov(exact.detach().double().numpy(), bias=True), want, atol=1e-4)
    out = WCT(forward="mpa", backward="lyapunov")(content, style)  # MPA [5/5] at condition ~20: 0.1% error
    assert np.linalg.norm(np.cov(out.detach().double().numpy(), bias=True) - want) / np.linalg.norm(want) < 5e-3
    out.square().sum().backward()
    assert torch.isfinite(content.grad).all()


def test_hybrid_schedule_reconfigures_modules(rng):
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, C, 3, padding=1),
        ZCAWhitening(C, groups=G, record_covariance=True),
        PCADenoising(C, k=2),
        CovariancePooling(triu=True),
    )
    schedule = HybridSchedule(switch_epoch=1, max_condition=1.0)
    seen = []
    for epoch in range(2):
        if schedule.step(epoch):
            assert schedule.apply(model.modules()) == 2  # ZCA and pooling, not PCA
        seen.append((model[1].method["forward"], model[3].method["backward"], model[2].method["forward"]))
        out = model(torch.randn(8, 3, 4, 4))
        out.sum().backward()
        schedule.observe(model[1].last_covariance)
    assert seen == [("newton-schulz", "newton-schulz", "power-iteration"), ("eigh", "pade", "power-iteration")]


def test_configuration_errors_raise_at_construction():
    with pytest.raises(sc.SpectralError, match="unknown backward method 'nope'"):
        ZCAWhitening(C, backward="nope")
    with pytest.raises(sc.SpectralError, match="unknown option"):
        ZCAWhitening(C, backward="taylor", degre=3)
    with pytest.raises(sc.SpectralError, match="`via` must be one of"):
        DecorrelatedBatchNorm(C, via="svd")
    with pytest.raises(sc.SpectralError, match="unknown forward method"):
        PCADenoising(C, forward="mpa")


def test_dtype_and_device_follow_the_module(rng):
    layer = ZCAWhitening(C, groups=G).to(torch.float64)
    assert layer.running_whitening.dtype == torch.float64
    y = layer(correlated(rng, 32, dtype=torch.float64))
    assert y.dtype == torch.float64
    cov, _ = np_grouped_cov(y, G)
    assert np.abs(cov - np.eye(D)).max() < 1e-4  # ε = 1e-5 against λmin ≈ 0.3


def test_ridge_is_relative_to_the_data_scale(rng):
    """Default: the ridge ε trace(cov)/d follows the data, so x and 1e-3 x whiten alike (float64);
    relative=False is the papers' absolute ε, which swamps covariances of size 1e-6."""
    x = correlated(rng, 64, dtype=torch.float64)
    white = lambda layer, scale: float(np.abs(np_grouped_cov(layer(scale * x), G)[0] - np.eye(D)).max())  # noqa: E731
    assert white(ZCAWhitening(C, groups=G, affine=False), 1e-3) < 1e-4
    assert white(ZCAWhitening(C, groups=G, affine=False, relative=False), 1e-3) > 0.5
    assert "relative=False" in repr(CovariancePooling(relative=False))
