"""Every transform of torch and JAX on every op: the transform table of docs/transforms.md, cell by cell.

Each case is a scalar loss L(A) of one op with one configuration (the exact default and
approximate methods, the eigenvector path, power iteration). References, none of which goes
through the framework under test:

* g(a): the gradient from NumPy float64 ``sc.vjp`` (checked against finite differences and
  closed forms in the other test files);
* forward mode: d/dt L(a + t dA) = ⟨g(a), dA⟩ for every method (its JVP is the transpose of
  its VJP), so jvp, jacfwd and forward_ad are checked against g;
* second order (exact configurations): H dA against central differences of g,
  (g(a + h dA) − g(a − h dA)) / 2h;
* approximate configurations: a second derivative raises ``sc.SecondOrderError`` naming the
  method, and a VJP-only method in forward mode raises ``sc.ForwardModeError`` naming it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import spectralcore as sc
from reference import covariance, random_orthogonal, rel_err, symmetric

N = 5
FIRST = 1e-10  # float64, framework against NumPy: rounding
SECOND = 1e-6  # Hessian-vector product against central differences (h = 1e-5)


@dataclasses.dataclass(frozen=True)
class Case:
    op: str
    options: tuple = ()
    exact: bool = False

    def call(self, A, xp_log=np.log):
        kw = dict(self.options)
        if self.op == "eigh":
            return sc.eigh(A, **kw)
        if self.op == "matrix_power":
            return sc.matrix_power(A, 0.5, **kw)
        if self.op == "matrix_function":
            return sc.matrix_function(A, xp_log, lambda x: 1 / x, **kw)
        return getattr(sc, self.op)(A, **kw)


CASES = {
    "eigh": Case("eigh", exact=True),
    "eigh-taylor": Case("eigh", (("backward", "taylor"),)),
    "eigh-power-iteration": Case("eigh", (("backward", "power-iteration"), ("iterations", 4))),  # compiles fast
    "sqrtm": Case("sqrtm", exact=True),
    "sqrtm-mpa-lyapunov": Case("sqrtm", (("forward", "mpa"), ("backward", "lyapunov"))),
    "sqrtm-newton-schulz": Case("sqrtm", (("forward", "newton-schulz"), ("backward", "newton-schulz"))),
    "invsqrtm": Case("invsqrtm", exact=True),
    "invsqrtm-pade": Case("invsqrtm", (("backward", "pade"),), exact=True),  # the eigenvector path
    "invsqrtm-lorentzian": Case("invsqrtm", (("backward", "lorentzian"),)),
    "matrix_power": Case("matrix_power", exact=True),
    "matrix_function-log": Case("matrix_function", exact=True),
    "logm": Case("logm", exact=True),
    "expm": Case("expm", exact=True),
}
EXACT = [name for name, case in CASES.items() if case.exact]
APPROXIMATE = [name for name, case in CASES.items() if not case.exact]


@pytest.fixture(scope="module")
def data():
    """A batch of 3 sample covariances (5 × 5, float64), loss weights and a symmetric direction."""
    rng = np.random.default_rng(20261127)
    a = np.stack([covariance(rng, N, 40) for _ in range(3)])
    return a, rng.standard_normal(N), rng.standard_normal((N, N)), symmetric(rng, N)


def loss_of(case: Case, gw, G, log=np.log, total=lambda x: x.sum()):
    """L(A) = ⟨G, F(A)⟩, or ⟨gw, w⟩ + ⟨G, V∘V⟩ for eigh (invariant to eigenvector signs)."""

    def loss(A):
        out = case.call(A, log)
        if case.op == "eigh":
            return total(gw * out[0]) + total(G * out[1] ** 2)
        return total(G * out)

    return loss


def reference_grad(case: Case, a, gw, G):
    """g(a) by NumPy float64 sc.vjp."""
    kw = dict(case.options)
    if case.op == "eigh":
        (w, V), pullback = sc.vjp(sc.eigh, a, **kw)
        return pullback((gw, 2 * G * V))
    args = {"matrix_power": (0.5,), "matrix_function": (np.log, lambda x: 1 / x)}.get(case.op, ())  # logm, expm: none
    _, pullback = sc.vjp(getattr(sc, case.op), a, *args, **kw)
    return pullback(G)


def reference_hvp(case: Case, a, gw, G, dA, h=1e-5):
    return (reference_grad(case, a + h * dA, gw, G) - reference_grad(case, a - h * dA, gw, G)) / (2 * h)


def directional(case, a, gw, G, dA) -> float:
    return float(np.sum(reference_grad(case, a, gw, G) * dA))


# ============================================================================ torch


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _t(torch, x):
    return torch.tensor(np.asarray(x), dtype=torch.float64)


@pytest.mark.parametrize("name", list(CASES))
def test_torch_func_grad_vjp_and_jacrev(torch, data, name):
    a, gw, G, _ = data
    case = CASES[name]
    loss = loss_of(case, _t(torch, gw), _t(torch, G), torch.log)
    ref = reference_grad(case, a[0], gw, G)
    A = _t(torch, a[0])
    assert rel_err(torch.func.grad(loss)(A), ref) < FIRST
    value, pullback = torch.func.vjp(loss, A)
    assert rel_err(pullback(torch.ones_like(value))[0], ref) < FIRST
    assert rel_err(torch.func.jacrev(loss)(A), ref) < FIRST


@pytest.mark.parametrize("name", list(CASES))
def test_torch_forward_mode(torch, data, name):
    """torch.func.jvp, torch.autograd.forward_ad and torch.func.jacfwd against ⟨g, dA⟩ and g."""
    a, gw, G, dA = data
    case = CASES[name]
    loss = loss_of(case, _t(torch, gw), _t(torch, G), torch.log)
    A, D = _t(torch, a[0]), _t(torch, dA)
    expected = directional(case, a[0], gw, G, dA)
    _, tangent = torch.func.jvp(loss, (A,), (D,))
    assert abs(float(tangent) - expected) <= FIRST * abs(expected)
    import torch.autograd.forward_ad as fwAD

    with fwAD.dual_level():
        dual = loss(fwAD.make_dual(A, D))
        assert abs(float(fwAD.unpack_dual(dual).tangent) - expected) <= FIRST * abs(expected)
    assert rel_err(torch.func.jacfwd(loss)(A), reference_grad(case, a[0], gw, G)) < FIRST


@pytest.mark.parametrize("name", list(CASES))
def test_torch_vmap_over_inputs_and_over_grad(torch, data, name):
    """torch.func.vmap of the op (the value checks are skipped while batched) and per-sample grads."""
    a, gw, G, _ = data
    case = CASES[name]
    A = _t(torch, a)
    batched = torch.func.vmap(lambda X: case.call(X, torch.log))(A)
    looped = [case.call(A[i], torch.log) for i in range(len(a))]
    if case.op == "eigh":
        batched, looped = batched[0], [out[0] for out in looped]
    assert rel_err(batched, torch.stack(looped)) < FIRST
    loss = loss_of(case, _t(torch, gw), _t(torch, G), torch.log)
    per_sample = torch.func.vmap(torch.func.grad(loss))(A)
    assert rel_err(per_sample, np.stack([reference_grad(case, x, gw, G) for x in a])) < FIRST


@pytest.mark.parametrize("name", ["eigh-taylor", "sqrtm-mpa-lyapunov", "invsqrtm", "matrix_function-log"])
def test_torch_compile_of_func_transforms(torch, data, name):
    """torch.compile around torch.func.grad, jvp and vmap(grad) gives the eager numbers (a
    detach inside the Function's forward once made the compiled gradients silently zero)."""
    a, gw, G, dA = data
    case = CASES[name]
    loss = loss_of(case, _t(torch, gw), _t(torch, G), torch.log)
    A, D = _t(torch, a[0]), _t(torch, dA)
    torch._dynamo.reset()
    grad = torch.compile(torch.func.grad(loss), backend="aot_eager")(A)
    assert rel_err(grad, reference_grad(case, a[0], gw, G)) < FIRST
    tangent = torch.compile(lambda x, d: torch.func.jvp(loss, (x,), (d,))[1], backend="aot_eager")(A, D)
    expected = directional(case, a[0], gw, G, dA)
    assert abs(float(tangent) - expected) <= FIRST * abs(expected)
    per_sample = torch.compile(torch.func.vmap(torch.func.grad(loss)), backend="aot_eager")(_t(torch, a))
    assert rel_err(per_sample, np.stack([reference_grad(case, x, gw, G) for x in a])) < FIRST


@pytest.mark.parametrize("name", EXACT)
def test_torch_second_order_of_exact_methods(torch, data, name):
    """torch.func.hessian and a double backward (create_graph=True) against differences of g."""
    a, gw, G, dA = data
    case = CASES[name]
    loss = loss_of(case, _t(torch, gw), _t(torch, G), torch.log)
    expected = reference_hvp(case, a[0], gw, G, dA)
    H = torch.func.hessian(loss)(_t(torch, a[0]))
    assert rel_err(torch.einsum("ijkl,kl->ij", H, _t(torch, dA)), expected) < SECOND
    A = _t(torch, a[0]).requires_grad_()
    (g,) = torch.autograd.grad(loss(A), A, create_graph=True)
    (hvp,) = torch.autograd.grad((g * _t(torch, dA)).sum(), A)
    assert rel_err(hvp, expected) < SECOND


@pytest.mark.parametrize("name", APPROXIMATE)
def test_torch_second_order_of_approximations_raises(torch, data, name):
    """The first derivative still works with create_graph=True (torch.func.grad uses it); only
    differentiating it again raises, naming the approximate method."""
    a, gw, G, dA = data
    case = CASES[name]
    loss = loss_of(case, _t(torch, gw), _t(torch, G), torch.log)
    with pytest.raises(sc.SecondOrderError, match="second derivatives are not supported through .*'"):
        torch.func.hessian(loss)(_t(torch, a[0]))
    A = _t(torch, a[0]).requires_grad_()
    (g,) = torch.autograd.grad(loss(A), A, create_graph=True)
    assert rel_err(g.detach(), reference_grad(case, a[0], gw, G)) < FIRST
    with pytest.raises(sc.SecondOrderError, match=dict(case.options).get("backward", "")):
        torch.autograd.grad((g * _t(torch, dA)).sum(), A)


# ============================================================================ JAX


@pytest.fixture(scope="module")
def jax():
    jax = pytest.importorskip("jax")
    with jax.enable_x64(True):
        yield jax


@pytest.mark.parametrize("name", list(CASES))
def test_jax_reverse_mode_jit_and_vmap(jax, data, name):
    a, gw, G, _ = data
    jnp = jax.numpy
    case = CASES[name]
    loss = loss_of(case, jnp.asarray(gw), jnp.asarray(G), jnp.log)
    ref = reference_grad(case, a[0], gw, G)
    A = jnp.asarray(a[0])
    assert rel_err(jax.grad(loss)(A), ref) < FIRST
    assert rel_err(jax.jit(jax.grad(loss))(A), ref) < FIRST
    assert rel_err(jax.jacrev(loss)(A), ref) < FIRST
    per_sample = jax.vmap(jax.grad(loss))(jnp.asarray(a))
    assert rel_err(per_sample, np.stack([reference_grad(case, x, gw, G) for x in a])) < FIRST


@pytest.mark.parametrize("name", list(CASES))
def test_jax_forward_mode(jax, data, name):
    """jax.jvp (also under jit and vmap), jax.linearize and jax.jacfwd against ⟨g, dA⟩ and g."""
    a, gw, G, dA = data
    jnp = jax.numpy
    case = CASES[name]
    loss = loss_of(case, jnp.asarray(gw), jnp.asarray(G), jnp.log)
    A, D = jnp.asarray(a[0]), jnp.asarray(dA)
    expected = directional(case, a[0], gw, G, dA)
    for tangent in (
        jax.jvp(loss, (A,), (D,))[1],
        jax.jit(lambda x, d: jax.jvp(loss, (x,), (d,))[1])(A, D),
        jax.linearize(loss, A)[1](D),
    ):
        assert abs(float(tangent) - expected) <= FIRST * abs(expected)
    batched = jax.vmap(lambda x: jax.jvp(loss, (x,), (D,))[1])(jnp.asarray(a))
    for x, t in zip(a, batched):
        assert abs(float(t) - directional(case, x, gw, G, dA)) <= FIRST * abs(float(t))
    assert rel_err(jax.jacfwd(loss)(A), reference_grad(case, a[0], gw, G)) < FIRST


@pytest.mark.parametrize("name", EXACT)
def test_jax_second_order_of_exact_methods(jax, data, name):
    a, gw, G, dA = data
    jnp = jax.numpy
    case = CASES[name]
    loss = loss_of(case, jnp.asarray(gw), jnp.asarray(G), jnp.log)
    expected = reference_hvp(case, a[0], gw, G, dA)
    H = jax.hessian(loss)(jnp.asarray(a[0]))
    assert rel_err(jnp.einsum("ijkl,kl->ij", H, jnp.asarray(dA)), expected) < SECOND
    hvp = jax.jvp(jax.grad(loss), (jnp.asarray(a[0]),), (jnp.asarray(dA),))[1]  # forward over reverse
    assert rel_err(hvp, expected) < SECOND


@pytest.mark.parametrize("name", APPROXIMATE)
def test_jax_second_order_of_approximations_raises(jax, data, name):
    a, gw, G, dA = data
    jnp = jax.numpy
    case = CASES[name]
    loss = loss_of(case, jnp.asarray(gw), jnp.asarray(G), jnp.log)
    with pytest.raises(sc.SecondOrderError, match="second derivatives are not supported through .*'"):
        jax.hessian(loss)(jnp.asarray(a[0]))
    with pytest.raises(sc.SecondOrderError):
        jax.grad(lambda x: jnp.sum(jax.grad(loss)(x) * jnp.asarray(dA)))(jnp.asarray(a[0]))


# ============================================================================ second order at ties

# the Daleckii–Krein configurations: their first derivative is exact at ties, and so must their
# second be (second divided differences); the reference is central differences of NumPy's g
AT_TIES = ["sqrtm", "invsqrtm", "matrix_power", "matrix_function-log", "logm", "expm"]


@pytest.fixture(scope="module")
def ties():
    """A = 2I (every eigenvalue tied, bitwise), a rotated triple tie (computed gaps ~1e-16) and a
    rotated near tie (gap 1e-9), 5 × 5 float64; a loss weight and a symmetric direction."""
    rng = np.random.default_rng(20261203)
    q = random_orthogonal(rng, N)

    def rotated(lam):
        a = (q * np.asarray(lam)) @ q.T
        return (a + a.T) / 2

    inputs = {
        "2I": 2 * np.eye(N),
        "triple tie": rotated([0.5, 1.0, 1.0, 1.0, 2.0]),
        "near tie": rotated([0.5, 1.0, 1.0 + 1e-9, 1.5, 2.0]),
    }
    return inputs, rng.standard_normal((N, N)), symmetric(rng, N)


def _tie_cases(ties, name):
    inputs, G, dA = ties
    case = CASES[name]
    for label, a in inputs.items():
        yield label, a, case, G, dA, reference_hvp(case, a, None, G, dA)


@pytest.mark.parametrize("name", AT_TIES)
def test_torch_second_order_at_ties(torch, ties, name):
    """torch.func.hessian, jvp of grad and a double backward at 2I, a triple and a near tie."""
    for label, a, case, G, dA, expected in _tie_cases(ties, name):
        loss = loss_of(case, None, _t(torch, G), torch.log)
        A, D = _t(torch, a), _t(torch, dA)
        H = torch.func.hessian(loss)(A)
        assert rel_err(torch.einsum("ijkl,kl->ij", H, D), expected) < SECOND, label
        assert rel_err(torch.func.jvp(torch.func.grad(loss), (A,), (D,))[1], expected) < SECOND, label
        X = A.clone().requires_grad_()
        (g,) = torch.autograd.grad(loss(X), X, create_graph=True)
        (hvp,) = torch.autograd.grad((g * D).sum(), X)
        assert rel_err(hvp, expected) < SECOND, label


@pytest.mark.parametrize("name", AT_TIES)
def test_jax_second_order_at_ties(jax, ties, name):
    """jax.hessian, jvp of grad (also under jit and vmap over the three inputs) and grad of grad."""
    jnp = jax.numpy
    cases = list(_tie_cases(ties, name))
    _, _, case, G, dA, _ = cases[0]
    loss = loss_of(case, None, jnp.asarray(G), jnp.log)
    D = jnp.asarray(dA)

    def hvp(x):
        return jax.jvp(jax.grad(loss), (x,), (D,))[1]

    for label, a, _, _, _, expected in cases:
        A = jnp.asarray(a)
        assert rel_err(jnp.einsum("ijkl,kl->ij", jax.hessian(loss)(A), D), expected) < SECOND, label
        assert rel_err(hvp(A), expected) < SECOND, label
        assert rel_err(jax.jit(hvp)(A), expected) < SECOND, label
        assert rel_err(jax.grad(lambda x: jnp.sum(jax.grad(loss)(x) * D))(A), expected) < SECOND, label
    batched = jax.vmap(hvp)(jnp.asarray(np.stack([a for _, a, *_ in cases])))
    for (label, *_, expected), got in zip(cases, batched):
        assert rel_err(got, expected) < SECOND, label


@pytest.mark.parametrize("namespace", ["numpy", "array_api_strict"])
@pytest.mark.parametrize("name", AT_TIES)
def test_explicit_hvp_at_ties(ties, name, namespace):
    """sc.hvp on any Array-API array: the pullback and its derivative along dA."""
    xp = pytest.importorskip(namespace)
    for label, a, case, G, dA, expected in _tie_cases(ties, name):
        args = {"matrix_power": (0.5,), "matrix_function": (xp.log, lambda x: 1 / x)}.get(case.op, ())
        options = {"d2f": lambda x: -1 / (x * x)} if case.op == "matrix_function" else {}
        gA, dgA = sc.hvp(getattr(sc, case.op), xp.asarray(a), xp.asarray(G), xp.asarray(dA), *args, **options)
        assert rel_err(np.asarray(gA), reference_grad(case, a, None, G)) < FIRST, label
        assert rel_err(np.asarray(dgA), expected) < SECOND, label


def test_explicit_hvp_refuses_what_it_cannot_compute(ties):
    inputs, G, dA = ties
    a = inputs["triple tie"]
    with pytest.raises(sc.SecondOrderError, match="sqrtm-backward 'lyapunov'"):
        sc.hvp(sc.sqrtm, a, G, dA, forward="mpa", backward="lyapunov")
    with pytest.raises(sc.SecondOrderError, match="not a Daleckii-Krein rule"):
        sc.hvp(sc.sqrtm, a, G, dA, backward="pade")  # exact, through the eigenvector path
    with pytest.raises(sc.SpectralError, match="pass d2f="):
        sc.hvp(sc.matrix_function, a, G, dA, np.log, lambda x: 1 / x)
    with pytest.raises(sc.SecondOrderError, match="eig="):
        sc.hvp(sc.logm, a, G, dA, eig=sc.eigh(a))
    with pytest.raises(sc.SpectralError, match=r"tangent `dsqrtm` must have shape \(5, 5\)"):
        sc.hvp(sc.sqrtm, a, G, dA[:4, :4])
    gA, dgA = sc.hvp(sc.sqrtm, a, None, dA)
    assert not np.any(gA) and not np.any(dgA)


def test_third_derivatives_raise(torch, jax):
    jnp = jax.numpy
    with pytest.raises(sc.SecondOrderError, match="third order"):
        jax.jacfwd(jax.hessian(lambda A: sc.sqrtm(A).sum()))(2 * jnp.eye(3))
    with pytest.raises(sc.SecondOrderError, match="third order"):
        torch.func.jacfwd(torch.func.hessian(lambda A: sc.logm(A).sum()))(2 * torch.eye(3, dtype=torch.float64))


# ============================================================================ VJP-only methods


@dataclasses.dataclass(frozen=True)
class VjpOnly(sc.EighBackward):
    """A third-party eigh backward that writes only its VJP (the exact rule, as a whole)."""

    name = "vjp-only"

    def vjp(self, xp, A, w, V, gw, gV):
        return sc.methods.Exact().vjp(xp, A, w, V, gw, gV)


def test_vjp_only_method_works_in_reverse_mode_and_names_itself_in_forward_mode(data):
    a, gw, G, dA = data
    case = Case("sqrtm", (("backward", VjpOnly()),))
    _, pullback = sc.vjp(sc.eigh, a[0], backward=VjpOnly())
    assert rel_err(pullback((gw, None)), reference_grad(Case("eigh"), a[0], gw, 0 * G)) < FIRST
    with pytest.raises(sc.ForwardModeError, match="eigh-backward method 'vjp-only' defines no jvp"):
        sc.jvp(sc.sqrtm, a[0], dA, backward=VjpOnly())
    jax = pytest.importorskip("jax")
    with jax.enable_x64(True):
        jnp = jax.numpy
        loss = loss_of(case, jnp.asarray(gw), jnp.asarray(G), jnp.log)
        assert rel_err(jax.grad(loss)(jnp.asarray(a[0])), reference_grad(Case("sqrtm"), a[0], gw, G)) < FIRST
        with pytest.raises(sc.ForwardModeError, match="'vjp-only'"):
            jax.jvp(loss, (jnp.asarray(a[0]),), (jnp.asarray(dA),))
    torch = pytest.importorskip("torch")
    loss = loss_of(case, _t(torch, gw), _t(torch, G), torch.log)
    assert rel_err(torch.func.grad(loss)(_t(torch, a[0])), reference_grad(Case("sqrtm"), a[0], gw, G)) < FIRST
    with pytest.raises(sc.ForwardModeError, match="'vjp-only'"):
        torch.func.jvp(loss, (_t(torch, a[0]),), (_t(torch, dA),))
