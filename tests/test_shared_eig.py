"""Several functions of one eigendecomposition: ``E = sc.eigh(A)`` once, then ``sc.logm(A, eig=E)``,
``sc.expm(A, eig=E)``, ``sc.matrix_power(A, ±½, eig=E)``, ``sc.matrix_function(A, f, df, eig=E)``.

The loss L(A) = ⟨G1, log A⟩ + ⟨G2, exp A⟩ + ⟨G3, A^½⟩ + ⟨G4, A^-½⟩ + ⟨G5, A²⟩ + Σλ² uses every
function and the eigenvalues themselves. Its gradient and tangent through the shared route are
checked against central differences of SciPy (float64, independent of spectralcore) and against
computing each function separately, on separated, near-tied and exactly tied spectra, in float32
and float64, through NumPy (sc.vjp / sc.jvp), torch autograd and JAX.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

import spectralcore as sc
from reference import fd_gradient, rel_err, symmetric, with_spectrum

SPECTRA = {
    "separated": [0.4, 0.9, 1.7, 2.6, 3.5],
    "near tie": [0.4, 1.3, 1.3 + 1e-7, 2.6, 3.5],
    "triple tie": [0.4, 1.3, 1.3, 1.3, 3.5],
}
TOL = {"float64": 1e-7, "float32": 3e-4}  # float64: central differences; float32: rounding of the ops
N = 5


def _reference(a: np.ndarray) -> list[np.ndarray]:
    """log A, exp A, A^½, A^-½, A² with SciPy, and the eigenvalues (float64)."""
    root = np.real(sla.sqrtm(a))
    return [np.real(sla.logm(a)), sla.expm(a), root, np.linalg.inv(root), a @ a, np.linalg.eigvalsh(a)]


def _loss_reference(a: np.ndarray, gs: list[np.ndarray]) -> float:
    *matrices, w = _reference(a)
    return float(sum(np.sum(g * m) for g, m in zip(gs, matrices)) + np.sum(w**2))


def _functions(A, E, xp):
    """The five functions of A from the one eigendecomposition E."""
    return [
        sc.logm(A, eig=E),
        sc.expm(A, eig=E),
        sc.matrix_power(A, 0.5, eig=E),
        sc.matrix_power(A, -0.5, eig=E),
        sc.matrix_function(A, lambda x: x * x, lambda x: 2 * x, eig=E),
    ]


def _separately(A):
    return [
        sc.logm(A),
        sc.expm(A),
        sc.matrix_power(A, 0.5),
        sc.matrix_power(A, -0.5),
        sc.matrix_function(A, lambda x: x * x, lambda x: 2 * x),
    ]


def _numpy_gradient(a, gs):
    """The shared route through the explicit sc.vjp of each function and of sc.eigh."""
    E, eigh_pullback = sc.vjp(sc.eigh, a)
    total = eigh_pullback((2 * E.eigenvalues, None))
    for fn, args, g in zip(
        (sc.logm, sc.expm, sc.matrix_power, sc.matrix_power, sc.matrix_function),
        ((), (), (0.5,), (-0.5,), (lambda x: x * x, lambda x: 2 * x)),
        gs,
    ):
        _, pullback = sc.vjp(fn, a, *args, eig=E)
        total = total + pullback(g)
    return total


def _torch_gradient(a, gs, shared):
    torch = pytest.importorskip("torch")
    A = torch.tensor(a, requires_grad=True)
    if shared:
        E = sc.eigh(A)
        outs, w = _functions(A, E, torch), E.eigenvalues
    else:
        outs, w = _separately(A), torch.linalg.eigvalsh(A)
    loss = sum((torch.tensor(g) * m).sum() for g, m in zip(gs, outs)) + (w**2).sum()
    (grad,) = torch.autograd.grad(loss, A)
    return grad.numpy()


def _jax_loss(gs, shared):
    import jax.numpy as jnp

    def loss(A):
        if shared:
            E = sc.eigh(A)
            outs, w = _functions(A, E, jnp), E.eigenvalues
        else:
            outs, w = _separately(A), jnp.linalg.eigvalsh(A)
        return sum((g.astype(A.dtype) * m).sum() for g, m in zip(gs, outs)) + (w**2).sum()

    return loss


def _jax_gradient(a, gs, shared):
    jax = pytest.importorskip("jax")
    with jax.enable_x64(True):
        return np.asarray(jax.grad(_jax_loss(gs, shared))(jax.numpy.asarray(a)))


GRADIENTS = {"numpy": lambda a, gs, shared: _numpy_gradient(a, gs), "torch": _torch_gradient, "jax": _jax_gradient}


@pytest.mark.parametrize("framework", list(GRADIENTS))
@pytest.mark.parametrize("spectrum", list(SPECTRA))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gradient_through_one_eigendecomposition(rng, framework, spectrum, dtype):
    a = with_spectrum(rng, SPECTRA[spectrum])
    gs = [symmetric(rng, N) for _ in range(5)]
    expected = fd_gradient(lambda x: _loss_reference(x, gs), a, h=1e-5)
    x, gs_x = a.astype(dtype), [g.astype(dtype) for g in gs]
    shared = GRADIENTS[framework](x, gs_x, True)
    assert shared.dtype == dtype and np.all(np.isfinite(shared))
    assert rel_err(shared, expected) < TOL[dtype]
    if framework != "numpy":  # computing each function separately gives the same gradient
        assert rel_err(shared, GRADIENTS[framework](x, gs_x, False)) < (1e-12 if dtype == "float64" else 1e-5)


@pytest.mark.parametrize("spectrum", list(SPECTRA))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_values_and_tangents_equal_separate_calls_and_differences(rng, spectrum, dtype):
    a = with_spectrum(rng, SPECTRA[spectrum])
    dA = symmetric(rng, N)
    h = 1e-5
    expected = [(p - m) / (2 * h) for p, m in zip(_reference(a + h * dA)[:5], _reference(a - h * dA)[:5])]
    x = a.astype(dtype)
    E = sc.eigh(x)
    for fn, args, separate, reference, tangent_ref in zip(
        (sc.logm, sc.expm, sc.matrix_power, sc.matrix_power),
        ((), (), (0.5,), (-0.5,)),
        _separately(x),
        _reference(a),
        expected,
    ):
        out, tangent = sc.jvp(fn, x, dA.astype(dtype), *args, eig=E)
        assert rel_err(out, separate) < (1e-13 if dtype == "float64" else 1e-6)
        assert rel_err(out, reference) < (1e-12 if dtype == "float64" else 1e-5)
        assert rel_err(tangent, tangent_ref) < TOL[dtype]


def test_forward_mode_in_torch_and_jax(rng):
    a = with_spectrum(rng, SPECTRA["triple tie"])
    dA = symmetric(rng, N)
    h = 1e-5
    expected = (np.real(sla.logm(a + h * dA)) - np.real(sla.logm(a - h * dA))) / (2 * h)
    torch = pytest.importorskip("torch")
    _, tangent = torch.func.jvp(lambda A: sc.logm(A, eig=sc.eigh(A)), (torch.tensor(a),), (torch.tensor(dA),))
    assert rel_err(tangent, expected) < 1e-7
    jax = pytest.importorskip("jax")
    with jax.enable_x64(True):
        _, tangent = jax.jvp(lambda A: sc.logm(A, eig=sc.eigh(A)), (jax.numpy.asarray(a),), (jax.numpy.asarray(dA),))
    assert rel_err(tangent, expected) < 1e-7


def test_under_jit_and_vmap(rng):
    jax = pytest.importorskip("jax")
    a = np.stack([with_spectrum(rng, SPECTRA["triple tie"]), with_spectrum(rng, SPECTRA["separated"])])
    gs = [symmetric(rng, N) for _ in range(5)]
    expected = np.stack([fd_gradient(lambda x: _loss_reference(x, gs), m, h=1e-5) for m in a])
    with jax.enable_x64(True):
        grad = jax.jit(jax.vmap(jax.grad(_jax_loss([jax.numpy.asarray(g) for g in gs], True))))(jax.numpy.asarray(a))
    assert rel_err(grad, expected) < 1e-7
    torch = pytest.importorskip("torch")
    batched = torch.func.vmap(torch.func.grad(lambda A: sc.logm(A, eig=sc.eigh(A)).sum()))(torch.tensor(a))
    reference = np.stack([fd_gradient(lambda x: float(np.sum(np.real(sla.logm(x)))), m, h=1e-5) for m in a])
    assert rel_err(batched, reference) < 1e-7


def test_second_derivatives(rng):
    """torch recomputes the eigendecomposition to differentiate twice (exactly); JAX cannot see
    how a given eig moves with A inside its rule, so it refuses rather than return a wrong Hessian."""
    a = with_spectrum(rng, SPECTRA["separated"])
    torch = pytest.importorskip("torch")
    hessian = torch.autograd.functional.hessian
    shared = hessian(lambda A: sc.logm(A, eig=sc.eigh(A)).sum(), torch.tensor(a))
    h = 1e-4  # the Hessian along e_00: differences of the gradient of sum(log A)
    e = np.zeros((N, N))
    e[0, 0] = 1.0
    grad = sc.vjp(sc.logm, a + h * e)[1](np.ones((N, N))) - sc.vjp(sc.logm, a - h * e)[1](np.ones((N, N)))
    assert rel_err(shared[0, 0], grad / (2 * h)) < 1e-6
    jax = pytest.importorskip("jax")
    with jax.enable_x64(True), pytest.raises(sc.SecondOrderError, match="eig="):
        jax.hessian(lambda A: sc.logm(A, eig=sc.eigh(A)).sum())(jax.numpy.asarray(a))


def test_no_derivative_flows_into_eig(rng):
    """Gradients reach A through the op's own rule only, not a second time through E."""
    torch = pytest.importorskip("torch")
    a = with_spectrum(rng, SPECTRA["separated"])
    A = torch.tensor(a, requires_grad=True)
    E = sc.eigh(A)
    w, V = E
    sc.logm(A, eig=E).sum().backward()
    assert w.grad_fn is not None and V.grad_fn is not None
    assert rel_err(A.grad, sc.vjp(sc.logm, a)[1](np.ones((N, N)))) < 1e-12


def test_eig_is_checked(rng):
    a = with_spectrum(rng, SPECTRA["separated"])
    E = sc.eigh(a)
    with pytest.raises(sc.SpectralError, match=r"`eig` must be an eigendecomposition of A: .* got 0\.\d+"):
        sc.logm(a, eig=sc.eigh(a + 0.1 * symmetric(rng, N)))
    with pytest.raises(sc.SpectralError, match=r"orthogonal|V\^T V - I"):
        sc.expm(a, eig=(E[0], 2 * E[1]))
    with pytest.raises(sc.SpectralError, match=r"`eig\[0\] \(eigenvalues\)` must have shape \(5,\)"):
        sc.logm(a, eig=(E[0][:4], E[1]))
    with pytest.raises(sc.SpectralError, match=r"`eig\[1\] \(eigenvectors\)` must have shape .* dtype float64"):
        sc.logm(a, eig=(E[0], E[1].astype(np.float32)))
    with pytest.raises(sc.SpectralError, match=r"`eig` must be an eigendecomposition \(w, V\)"):
        sc.logm(a, eig=E[0])
    with pytest.raises(sc.SpectralError, match="`eig` must be finite"):
        sc.logm(a, eig=(E[0], np.full_like(E[1], np.nan)))
    with pytest.raises(sc.SpectralError, match="pass `eig` or `forward`, not both"):
        sc.logm(a, eig=E, forward="power-iteration")
    with pytest.raises(sc.SpectralError, match="unknown option.*'eig' for sqrtm"):
        sc.sqrtm(a, eig=E)
    torch = pytest.importorskip("torch")
    with pytest.raises(sc.SpectralError, match=r"`eig\[0\] \(eigenvalues\)` must be an array like A \(torch"):
        sc.logm(torch.tensor(a), eig=E)
    wrong = (E[0], E[1][..., ::-1].copy())  # check=False trusts the caller: V's columns no longer match w
    assert rel_err(sc.expm(a, eig=wrong, check=False), sla.expm(a)) > 0.1


def test_torch_compile(rng):
    torch = pytest.importorskip("torch")
    a = with_spectrum(rng, SPECTRA["triple tie"])

    def loss(A):
        E = sc.eigh(A)
        return sc.logm(A, eig=E).sum() + sc.expm(A, eig=E).sum()

    A = torch.tensor(a, requires_grad=True)
    sc.eigh(A)  # the adapter defines its Functions on first use, outside the trace (see README, torch.compile)
    (grad,) = torch.autograd.grad(torch.compile(loss, fullgraph=True, backend="aot_eager")(A), A)
    expected = fd_gradient(lambda x: float(np.sum(np.real(sla.logm(x))) + np.sum(sla.expm(x))), a, h=1e-5)
    assert rel_err(grad, expected) < 1e-7
