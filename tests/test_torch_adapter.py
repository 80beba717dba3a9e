"""The PyTorch adapter: sc.* on a torch.Tensor is a torch.autograd.Function.

References, none of which goes through the adapter:
* central finite differences (Richardson-extrapolated reference.fd_gradient) of NumPy/SciPy
  functions: numpy.linalg.eigh, scipy.linalg.sqrtm, fractional_matrix_power, logm;
* torch.autograd.gradcheck (float64 numerical Jacobians of the same call);
* sc.vjp on NumPy float64 input, for every registered method: the NumPy path is validated
  against finite differences and closed forms in the other test files, so agreement to
  1e-12 checks the adapter's plumbing (residuals, cotangent routing, dtype casts);
* torch.linalg.eigh autograd for a whitening module on a well-separated spectrum.

Run with ``-s`` to see the torch.compile graph-break report.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
import warnings

import numpy as np
import pytest
import scipy.linalg as sla

torch = pytest.importorskip("torch")

import spectralcore as sc  # noqa: E402
from reference import covariance, fd_gradient, rel_err, with_spectrum  # noqa: E402

SEPARATED = [0.3, 0.9, 1.7, 2.6, 4.0]
TRIPLE = [0.5, 1.2, 1.2, 1.2, 2.5]  # a triple eigenvalue: spectral functions stay smooth there

EIGH_BACKWARDS = [i.name for i in sc.methods("eigh-backward")]
EXACT_EIGH_BACKWARDS = [i.name for i in sc.methods("eigh-backward") if "exact" in i.claims]
SQRTM_FORWARDS = [i.name for i in sc.methods("sqrtm-forward")]
# sqrtm/invsqrtm accept every sqrtm backward and, through the eigenvector path, every eigh backward
SQRTM_BACKWARDS = sorted({i.name for i in sc.methods("sqrtm-backward")} | set(EIGH_BACKWARDS))


# ---------------------------------------------------------------- helpers


def fd(loss, a: np.ndarray, h: float = 1e-3) -> np.ndarray:
    """Richardson-extrapolated central differences, O(h⁴): sym(∂L/∂A) to ~1e-11 here."""
    return (4 * fd_gradient(loss, a, h) - fd_gradient(loss, a, 2 * h)) / 3


def t64(a, requires_grad: bool = True):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=requires_grad)


def np_sqrtm(x):
    return np.real(sla.sqrtm(x))


def np_invsqrtm(x):
    return np.linalg.inv(np_sqrtm(x))


def assert_symmetric(g, rtol: float = 1e-13):
    assert torch.allclose(g, g.mT, rtol=0, atol=rtol * float(g.abs().max()))


def sym_input(fn):
    """f(X) = fn((X + Xᵀ)/2): gradcheck perturbs single entries, the op needs symmetric input."""
    return lambda X: fn((X + X.mT) / 2)


# ---------------------------------------------------------------- 1. autograd vs independent references


@pytest.mark.parametrize("backward", EXACT_EIGH_BACKWARDS)
def test_eigh_autograd_matches_finite_differences(rng, backward):
    a = with_spectrum(rng, SEPARATED)
    gw, GV = rng.standard_normal(5), rng.standard_normal((5, 5))

    def loss(x):  # sign-invariant in the eigenvectors
        w, V = np.linalg.eigh(x)
        return float(np.sum(gw * w) + np.sum(GV * V**2))

    t = t64(a)
    w, V = sc.eigh(t, backward=backward)
    (torch.sum(torch.from_numpy(gw) * w) + torch.sum(torch.from_numpy(GV) * V**2)).backward()
    assert rel_err(t.grad, fd(loss, a)) < 1e-8


@pytest.mark.parametrize("spectrum", [SEPARATED, TRIPLE], ids=["separated", "triple"])
@pytest.mark.parametrize("op, ref", [(sc.sqrtm, np_sqrtm), (sc.invsqrtm, np_invsqrtm)], ids=["sqrtm", "invsqrtm"])
def test_sqrtm_exact_autograd_matches_finite_differences(rng, op, ref, spectrum):
    a = with_spectrum(rng, spectrum)
    G = rng.standard_normal((5, 5))
    t = t64(a)
    (op(t, forward="eigh", backward="exact") * torch.from_numpy(G)).sum().backward()
    assert rel_err(t.grad, fd(lambda x: float(np.sum(G * ref(x))), a)) < 1e-8


SPECTRAL = {
    "power0.5": (lambda A: sc.matrix_power(A, 0.5), lambda x: np.real(sla.fractional_matrix_power(x, 0.5))),
    "power-1": (lambda A: sc.matrix_power(A, -1), np.linalg.inv),
    "log": (lambda A: sc.matrix_function(A, torch.log, lambda x: 1 / x), lambda x: np.real(sla.logm(x))),
}


@pytest.mark.parametrize("spectrum", [SEPARATED, TRIPLE], ids=["separated", "triple"])
@pytest.mark.parametrize("name", list(SPECTRAL))
def test_spectral_function_autograd_matches_finite_differences(rng, name, spectrum):
    op, ref = SPECTRAL[name]
    a = with_spectrum(rng, spectrum)
    G = rng.standard_normal((5, 5))
    t = t64(a)
    (op(t) * torch.from_numpy(G)).sum().backward()
    assert rel_err(t.grad, fd(lambda x: float(np.sum(G * ref(x))), a)) < 1e-8


@pytest.mark.parametrize("backward", EIGH_BACKWARDS)
def test_eigh_autograd_equals_numpy_vjp_and_is_symmetric(rng, backward):
    a = with_spectrum(rng, SEPARATED)
    gw, GV = rng.standard_normal(5), rng.standard_normal((5, 5))
    (w_np, V_np), pullback = sc.vjp(sc.eigh, a, backward=backward)
    expected = pullback((gw, 2 * GV * V_np))  # cotangent of ⟨GV, V²⟩, whatever V's signs

    t = t64(a)
    w, V = sc.eigh(t, backward=backward)
    (torch.sum(torch.from_numpy(gw) * w) + torch.sum(torch.from_numpy(GV) * V**2)).backward()
    assert rel_err(w.detach(), w_np) < 1e-13
    assert rel_err(t.grad, expected) < 1e-12
    assert_symmetric(t.grad)


@pytest.mark.parametrize("backward", SQRTM_BACKWARDS)
@pytest.mark.parametrize("forward", SQRTM_FORWARDS)
@pytest.mark.parametrize("op", [sc.sqrtm, sc.invsqrtm], ids=["sqrtm", "invsqrtm"])
def test_sqrtm_autograd_equals_numpy_vjp_and_is_symmetric(rng, op, forward, backward):
    a = covariance(rng, 6, 40)
    G = rng.standard_normal((6, 6))
    out_np, pullback = sc.vjp(op, a, forward=forward, backward=backward)
    expected = pullback(G)

    t = t64(a)
    out = op(t, forward=forward, backward=backward)
    (out * torch.from_numpy(G)).sum().backward()
    assert rel_err(out.detach(), out_np) < 1e-12
    assert rel_err(t.grad, expected) < 1e-12
    assert_symmetric(t.grad)  # G is not symmetric; gA is the gradient w.r.t. a symmetric matrix


@pytest.mark.parametrize("backward", ["exact", "taylor", "degenerate-safe"])
@pytest.mark.parametrize("p", [0.5, -1.0])
def test_matrix_power_autograd_equals_numpy_vjp(rng, p, backward):
    a = with_spectrum(rng, SEPARATED)
    G = rng.standard_normal((5, 5))
    out_np, pullback = sc.vjp(sc.matrix_power, a, p, backward=backward)
    t = t64(a)
    out = sc.matrix_power(t, p, backward=backward)
    (out * torch.from_numpy(G)).sum().backward()
    assert rel_err(out.detach(), out_np) < 1e-13
    assert rel_err(t.grad, pullback(G)) < 1e-12


# ---------------------------------------------------------------- 2. gradcheck, double backward


def _eigh_w_Vsq(X):
    w, V = sc.eigh(X, backward="exact")
    return w, V**2


GRADCHECK = {
    "eigh-exact": _eigh_w_Vsq,
    "sqrtm-eigh-exact": lambda X: sc.sqrtm(X, forward="eigh", backward="exact"),
    "invsqrtm-eigh-exact": lambda X: sc.invsqrtm(X, forward="eigh", backward="exact"),
    "matrix_power0.5": lambda X: sc.matrix_power(X, 0.5),
    "matrix_power-1": lambda X: sc.matrix_power(X, -1),
    "matrix_function-log": lambda X: sc.matrix_function(X, torch.log, lambda x: 1 / x),
}


@pytest.mark.parametrize("name", list(GRADCHECK))
def test_gradcheck_exact_methods(rng, name):
    X = t64(with_spectrum(rng, SEPARATED))
    assert torch.autograd.gradcheck(sym_input(GRADCHECK[name]), (X,))


def test_gradcheck_batched(rng):
    X = t64(np.stack([with_spectrum(rng, SEPARATED[:4]) for _ in range(2)]))
    assert torch.autograd.gradcheck(sym_input(GRADCHECK["sqrtm-eigh-exact"]), (X,))
    assert torch.autograd.gradcheck(sym_input(_eigh_w_Vsq), (X,))


def test_second_derivative_through_an_approximation_is_not_silently_dropped(rng):
    """A Hessian-vector product through an approximate method must raise — not quietly omit the
    op. With a constant cotangent of S (ones) and another term (A³) giving ∇L a graph,
    once_differentiable alone would let h = 6A through silently. (Exact methods are
    differentiated twice: tests/test_transforms.py.)"""
    t = t64(with_spectrum(rng, SEPARATED))

    def loss(x):
        return sc.sqrtm(x, forward="mpa", backward="lyapunov").sum() + (x**3).sum()

    (g,) = torch.autograd.grad(loss(t), t, create_graph=True)
    with pytest.raises(sc.SecondOrderError, match="sqrtm-backward 'lyapunov'"):
        torch.autograd.grad(g.sum(), t)
    (g,) = torch.autograd.grad(loss(t), t)  # first order still works
    assert torch.all(torch.isfinite(g))


# ---------------------------------------------------------------- 3. dtype, shape, symmetry

OPS = {
    "eigh": lambda A: sc.eigh(A),
    "eigh-taylor": lambda A: sc.eigh(A, backward="taylor"),
    "sqrtm": lambda A: sc.sqrtm(A),
    "invsqrtm-mpa-lyapunov": lambda A: sc.invsqrtm(A, forward="mpa", backward="lyapunov"),
    "sqrtm-newton-schulz": lambda A: sc.sqrtm(A, forward="newton-schulz", backward="newton-schulz"),
    "matrix_power": lambda A: sc.matrix_power(A, 0.5),
    "matrix_function-log": lambda A: sc.matrix_function(A, torch.log, lambda x: 1 / x),
}
OP_NAMES = list(OPS)


def _as_tuple(out):
    """Outputs as a tuple; eigenvectors with a canonical sign (first row ≥ 0), so a linear loss
    in V is a function of A whatever signs the solver picked (the ±1 product is exact)."""
    if isinstance(out, sc.EighResult):
        w, V = out
        return w, V * torch.sign(V[..., :1, :]).detach()
    return tuple(out) if isinstance(out, tuple) else (out,)


def _cotangents(out, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(o.shape, generator=gen, dtype=torch.float64).to(o.dtype) for o in out)


def _forward_backward(op, A, cot=None):
    """Outputs (tuple), gA for ⟨cot, out⟩; cot defaults to fixed random tensors in out's dtype."""
    A = A.detach().clone().requires_grad_()
    out = _as_tuple(op(A))
    cot = _cotangents(out) if cot is None else cot
    sum(torch.sum(c.to(o.dtype) * o) for c, o in zip(cot, out)).backward()
    return tuple(o.detach() for o in out), A.grad, cot


@pytest.mark.parametrize("name", OP_NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_dtype_preserved_full_precision(rng, name, dtype):
    op = OPS[name]
    a = with_spectrum(rng, SEPARATED)
    out, gA, cot = _forward_backward(op, torch.tensor(a, dtype=dtype))
    assert all(o.dtype == dtype for o in out)
    assert gA.dtype == dtype and gA.shape == (5, 5)
    assert_symmetric(gA, 1e-6 if dtype == torch.float32 else 1e-13)
    # float32 agrees with float64 to float32 accuracy
    out64, g64, _ = _forward_backward(op, torch.tensor(a), tuple(c.double() for c in cot))
    tol = 1e-4 if dtype == torch.float32 else 1e-13
    for o, o64 in zip(out, out64):
        assert rel_err(o, o64) < tol
    assert rel_err(gA, g64) < tol


@pytest.mark.parametrize("name", OP_NAMES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
def test_half_precision_computed_in_float32(rng, name, dtype):
    """float16/bfloat16 in: outputs and gradient in that dtype, equal to the float32 computation
    on the same (rounded) input and cotangent, cast back."""
    op = OPS[name]
    A = torch.tensor(with_spectrum(rng, SEPARATED)).to(dtype)
    A = (A + A.mT) / 2
    out, gA, cot = _forward_backward(op, A)
    assert all(o.dtype == dtype for o in out)
    assert gA.dtype == dtype and gA.shape == (5, 5)
    out32, g32, _ = _forward_backward(op, A.float(), tuple(c.float() for c in cot))
    for o, o32 in zip(out, out32):
        torch.testing.assert_close(o, o32.to(dtype), rtol=0, atol=0)
    torch.testing.assert_close(gA, g32.to(dtype), rtol=0, atol=0)


@pytest.mark.parametrize("name", OP_NAMES)
def test_batched_input(rng, name):
    op = OPS[name]
    a = np.stack([np.stack([with_spectrum(rng, SEPARATED) for _ in range(3)]) for _ in range(2)])
    out, gA, cot = _forward_backward(op, torch.tensor(a))
    assert gA.shape == (2, 3, 5, 5) and gA.dtype == torch.float64
    for i in range(2):
        for j in range(3):
            o1, g1, _ = _forward_backward(op, torch.tensor(a[i, j]), tuple(c[i, j] for c in cot))
            for o, oo in zip(out, o1):
                assert oo.shape == o.shape[2:]
                assert rel_err(o[i, j], oo) < 1e-12
            assert rel_err(gA[i, j], g1) < 1e-12


# ---------------------------------------------------------------- 4. behaviour


@pytest.mark.parametrize("name", OP_NAMES)
def test_no_grad_and_plain_inputs(rng, name):
    op = OPS[name]
    a = with_spectrum(rng, SEPARATED)
    t = t64(a)
    with torch.no_grad():
        out = _as_tuple(op(t))
    assert not any(o.requires_grad for o in out)
    out = _as_tuple(op(t64(a, requires_grad=False)))  # no error, nothing to differentiate
    assert not any(o.requires_grad for o in out) and all(o.grad_fn is None for o in out)
    assert all(o.requires_grad for o in _as_tuple(op(t)))


class Whitening(torch.nn.Module):
    """x → linear features → ZCA whitening W = (Σ + εI)^{-1/2} → a linear loss head."""

    def __init__(self, d: int, invsqrtm):
        super().__init__()
        self.proj = torch.nn.Linear(d, d, dtype=torch.float64)
        with torch.no_grad():  # well-conditioned features (the iterative methods are approximations)
            self.proj.weight.copy_(torch.eye(d, dtype=torch.float64) + 0.2 * self.proj.weight)
        self.head = torch.nn.Linear(d, 1, dtype=torch.float64)
        self.invsqrtm = invsqrtm

    def forward(self, x):
        z = self.proj(x)
        z = z - z.mean(0)
        cov = z.mT @ z / z.shape[0]
        cov = (cov + cov.mT) / 2
        W = self.invsqrtm(cov + 1e-3 * torch.eye(z.shape[1], dtype=z.dtype))
        return (self.head(z @ W) ** 2).mean(), z @ W


def _reference_invsqrtm(C):
    w, V = torch.linalg.eigh(C)
    return (V * w.rsqrt()) @ V.mT


@pytest.mark.parametrize("method", [("eigh", "exact"), ("mpa", "lyapunov")], ids=["eigh-exact", "mpa-lyapunov"])
def test_whitening_module_backward(method):
    torch.manual_seed(0)
    forward, backward = method
    x = torch.randn(256, 6, dtype=torch.float64)
    model = Whitening(6, lambda C: sc.invsqrtm(C, forward=forward, backward=backward))
    loss, white = model(x)
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    assert grads["proj.weight"].abs().max() > 0 and grads["head.weight"].abs().max() > 0
    cov_white = white.mT @ white / white.shape[0]
    assert torch.allclose(cov_white, torch.eye(6, dtype=torch.float64), atol=1e-2)
    if forward == "eigh":  # exact: equals torch.linalg.eigh autograd on this separated spectrum
        ref = Whitening(6, _reference_invsqrtm)
        ref.load_state_dict(model.state_dict())
        ref(x)[0].backward()
        # all parameters together (proj.bias has gradient 0 up to rounding: the features are centred)
        flat = torch.cat([grads[n].flatten() for n, _ in ref.named_parameters()])
        assert rel_err(flat, torch.cat([p.grad.flatten() for p in ref.parameters()])) < 1e-10


@pytest.mark.parametrize("name", OP_NAMES + ["sqrtm-mpa"])
def test_autocast_disabled_inside(rng, name):
    op = OPS.get(name) or (lambda A: sc.sqrtm(A, forward="mpa", backward="lyapunov"))
    A = torch.tensor(covariance(rng, 8, 40), dtype=torch.float32)
    out, gA, cot = _forward_backward(op, A)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        t = A.clone().requires_grad_()
        out_ac = _as_tuple(op(t))
        sum(torch.sum(c * o) for c, o in zip(cot, out_ac)).backward()  # backward under autocast too
    assert all(o.dtype == torch.float32 for o in out_ac) and t.grad.dtype == torch.float32
    for o, oo in zip(out_ac, out):
        torch.testing.assert_close(o.detach(), oo, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(t.grad, gA, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- 5. value checks

ALL_OPS = {
    "eigh": sc.eigh,
    "sqrtm": sc.sqrtm,
    "invsqrtm": sc.invsqrtm,
    "matrix_power": lambda A: sc.matrix_power(A, 0.5),
    "matrix_function": lambda A: sc.matrix_function(A, torch.exp, torch.exp),
}


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("name", list(ALL_OPS))
def test_asymmetric_and_nonfinite_raise(rng, name, requires_grad):
    a = with_spectrum(rng, SEPARATED)
    asym = a.copy()
    asym[0, 1] += 0.1
    with pytest.raises(sc.SpectralError, match="symmetric"):
        ALL_OPS[name](t64(asym, requires_grad))
    bad = a.copy()
    bad[2, 2] = np.nan
    with pytest.raises(sc.SpectralError, match="finite"):
        ALL_OPS[name](t64(bad, requires_grad))


def test_requires_grad_checks_emit_no_scalar_conversion_warning(rng):
    a = t64(with_spectrum(rng, SEPARATED))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for op in OPS.values():
            out = _as_tuple(op(a))  # check=True reads the values
            sum(o.sum() for o in out).backward()
        r = sc.eigh(a, forward="power-iteration", backward="taylor")
        (r[0].sum() + r[1].sum()).backward()
        _, pullback = sc.vjp(sc.sqrtm, a, forward="mpa", backward="lyapunov")
        pullback(torch.ones(5, 5, dtype=torch.float64))
    assert torch.isfinite(a.grad).all()


# ---------------------------------------------------------------- 6. power iteration's `accepted`


def test_eigh_result_without_accepted(rng):
    r = sc.eigh(t64(with_spectrum(rng, SEPARATED)))
    assert isinstance(r, sc.EighResult) and r.accepted is None


@pytest.mark.parametrize("backward", ["exact", "taylor", "power-iteration"])
def test_power_iteration_accepted_and_backward(rng, backward):
    a = with_spectrum(rng, SEPARATED)
    gw, GV = rng.standard_normal(5), rng.standard_normal((5, 5))
    t = t64(a)
    r = sc.eigh(t, forward="power-iteration", backward=backward)
    assert isinstance(r, sc.EighResult)
    acc = r.accepted
    assert isinstance(acc, torch.Tensor) and not acc.dtype.is_floating_point and not acc.dtype.is_complex
    assert not acc.requires_grad and acc.grad_fn is None and int(acc) == 5
    w, V = r
    assert w.requires_grad and V.requires_grad
    (torch.sum(torch.from_numpy(gw) * w) + torch.sum(torch.from_numpy(GV) * V**2)).backward()
    (_, V_np), pullback = sc.vjp(sc.eigh, a, forward="power-iteration", backward=backward)
    assert rel_err(t.grad, pullback((gw, 2 * GV * V_np))) < 1e-12


@pytest.mark.parametrize("backward", ["taylor", "power-iteration", "degenerate-safe"])
def test_power_iteration_rejected_pairs_backward(rng, backward):
    t = t64(with_spectrum(rng, [0.0, 0.0, 1.0, 2.0, 3.5]))
    r = sc.eigh(t, forward="power-iteration", backward=backward)
    assert int(r.accepted) == 3 and r.accepted.dtype == torch.int32
    (r[0].sum() + (r[1] ** 2 * torch.arange(5.0, dtype=torch.float64)).sum()).backward()
    assert torch.isfinite(t.grad).all()


def test_power_iteration_batched_accepted_half(rng):
    a = np.stack([with_spectrum(rng, SEPARATED), with_spectrum(rng, [0.0, 0.0, 1.0, 2.0, 3.5])])
    t = torch.tensor(a, dtype=torch.bfloat16, requires_grad=True)
    r = sc.eigh(t, forward="power-iteration", backward="taylor")
    assert r[0].dtype == r[1].dtype == torch.bfloat16
    assert r.accepted.tolist() == [5, 3] and not r.accepted.requires_grad
    (r[0].sum() + r[1].sum()).backward()
    assert t.grad.dtype == torch.bfloat16 and torch.isfinite(t.grad.float()).all()


# ---------------------------------------------------------------- 7. torch.compile

BACKEND = "inductor"


def _compile_target(A):
    s = (
        sc.sqrtm(A, forward="mpa", backward="lyapunov", check=False).sum()
        + sc.invsqrtm(A, forward="newton-schulz", backward="newton-schulz", check=False).sum()  # saved iterates
        + sc.matrix_power(A, 0.5, check=False).sum()
    )
    w, V = sc.eigh(A, backward="taylor", check=False)
    return s, w, V


def _compiled(fn):
    """Inductor; aot_eager only if the backend itself cannot compile on this machine."""
    compiled = torch.compile(fn, backend=BACKEND)

    def call(*args):
        try:
            return compiled(*args)
        except torch._dynamo.exc.BackendCompilerFailed as e:  # e.g. no C compiler
            print(f"inductor failed ({type(e).__name__}); falling back to aot_eager")
            return torch.compile(fn, backend="aot_eager")(*args)

    return call


def _graph_report(fn, A):
    """Print torch._dynamo.explain's counts and reasons, and every graph-break event Dynamo
    counted while tracing (nested frames included, which explain does not list)."""
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    ex = torch._dynamo.explain(fn)(A)
    print(
        f"\n[{fn.__name__}] explain: graph_count={ex.graph_count} graph_break_count={ex.graph_break_count} "
        f"ops_per_graph={[[str(op) for op in ops] for ops in ex.ops_per_graph]}"
    )
    for reason in ex.break_reasons:
        print(f"  explain break reason: {reason.reason}")
    for reason, n in counters["graph_break"].items():
        explanation = next((line.strip() for line in reason.splitlines() if "Explanation" in line), "")
        first = next((line.strip() for line in reason.splitlines() if line.strip()), "")
        print(f"  dynamo graph-break event x{n}: {first} | {explanation}")
    torch._dynamo.reset()
    return ex


def test_torch_compile_matches_eager(rng):
    sc.methods()  # the registry must exist before tracing (see test_compile_as_first_call)
    A = torch.tensor(covariance(rng, 6, 30), dtype=torch.float32)
    GV = torch.tensor(rng.standard_normal((6, 6)), dtype=torch.float32)

    def run(fn):
        t = A.clone().requires_grad_()
        s, w, V = fn(t)
        (s + w.sum() + (GV * V**2).sum()).backward()
        V = V * torch.sign(V[0])  # sign-align the columns for the value comparison
        return (s.detach(), w.detach(), V.detach()), t.grad

    torch._dynamo.reset()
    eager_out, eager_g = run(_compile_target)
    comp_out, comp_g = run(_compiled(_compile_target))
    for o, e in zip(comp_out, eager_out):
        torch.testing.assert_close(o, e, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(comp_g, eager_g, rtol=1e-5, atol=1e-5)
    report = _graph_report(_compile_target, A.clone().requires_grad_())
    assert (report.graph_count, report.graph_break_count) == (1, 0)


def test_compile_as_first_call():
    """A program whose first spectralcore call is inside torch.compile: the registry is built
    lazily on that call, i.e. while Dynamo traces it."""
    code = textwrap.dedent("""
        import torch, spectralcore as sc
        f = torch.compile(lambda A: sc.sqrtm(A, check=False), backend="eager")
        print(f(2 * torch.eye(3)).diagonal().tolist())
    """)
    r = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tempfile.gettempdir(),
    )
    errors = [line for line in r.stderr.splitlines() if "Error:" in line]
    assert r.returncode == 0, errors[-1] if errors else r.stderr[-500:]
    assert "1.41421" in r.stdout


def test_import_after_torch_leaves_dynamo_unloaded_and_compile_still_folds_constants():
    """``import torch, spectralcore`` does not import torch._dynamo (it cost about 2 s): the
    trace-time constants get the attribute assume_constant_result sets, which this checks is the
    public API's own; a later fullgraph compile of the MPA square root (whose coefficients are such
    constants) then traces in one graph and gives the eager numbers."""
    code = textwrap.dedent("""
        import sys, torch, spectralcore as sc
        from spectralcore.adapters import torch as adapter
        assert "torch._dynamo" not in sys.modules, "import spectralcore loaded torch._dynamo"
        def ours(): pass
        def theirs(): pass
        adapter._assume_constant_result(ours)
        torch.compiler.assume_constant_result(theirs)
        assert vars(ours) == vars(theirs) and vars(ours), (vars(ours), vars(theirs))
        A = torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64))
        f = lambda A: sc.sqrtm(A, forward="mpa", backward="lyapunov", check=False)
        compiled = torch.compile(f, fullgraph=True, backend="eager")
        print(float((compiled(A) - f(A)).abs().max()))
    """)
    command = [sys.executable, "-W", "ignore", "-c", code]
    r = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tempfile.gettempdir())
    assert r.returncode == 0, r.stderr[-2000:]
    assert float(r.stdout.strip().splitlines()[-1]) < 1e-12


def test_func_grad_of_an_exact_op_computes_the_forward_once_and_nested_transforms_still_differentiate_it(rng):
    """torch.func.grad runs the backward with grad mode on, as if create_graph=True; an exact
    configuration used to recompute its forward there, with recording, in case the derivative
    were differentiated again (twice the eigh). Now only a transform that does differentiate it
    (grad of grad, jvp of grad) gets the recording, and its second derivatives match differences."""
    a = with_spectrum(rng, [0.5, 1.0, 1.5, 2.0, 3.0])  # separated: second derivatives go through eigh's
    G = rng.standard_normal((5, 5))
    W, D = rng.standard_normal((5, 5)), rng.standard_normal((5, 5))
    D = (D + D.T) / 2

    def loss(A):
        return (sc.sqrtm(A) * torch.asarray(G)).sum()

    A = torch.asarray(a)
    with torch.profiler.profile() as profile:
        g = torch.func.grad(loss)(A)
    eighs = [e for e in profile.events() if e.name == "aten::_linalg_eigh"]
    assert len(eighs) == 1, [e.name for e in eighs]
    pullback = lambda x: sc.vjp(sc.sqrtm, x)[1](G)  # noqa: E731 - the NumPy reference gradient
    assert rel_err(g, pullback(a)) < 1e-12
    h = 1e-5
    hvp = (pullback(a + h * D) - pullback(a - h * D)) / (2 * h)
    _, tangent = torch.func.jvp(torch.func.grad(loss), (A,), (torch.asarray(D),))
    assert rel_err(tangent, hvp) < 1e-6
    second = torch.func.grad(lambda A: (torch.func.grad(loss)(A) * torch.asarray(W)).sum())(A)
    expected = fd_gradient(lambda x: float(np.sum(W * pullback(x))), a, h=1e-5)
    assert rel_err(second, expected) < 1e-6
