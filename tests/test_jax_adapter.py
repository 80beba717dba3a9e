"""The JAX adapter: a jax array goes through ``jax.custom_jvp`` (``jax.custom_vjp`` for a
VJP-only method) so grad, value_and_grad, jit (also of grad) and vmap (any axis, nested)
work on ``sc.eigh``, ``sc.sqrtm``, ``sc.invsqrtm``, ``sc.matrix_power`` and
``sc.matrix_function`` directly (forward mode and second order:
tests/test_transforms.py).

x64: float64 in JAX needs ``jax_enable_x64``, a global switch that would change every other
test's default dtype. The float64 tests therefore enable it only inside the
``jax.enable_x64(True)`` context manager (fixture ``x64``); the float32 tests run inside
``jax.enable_x64(False)`` (fixture ``x32``) and assert that arrays really default to float32.
An autouse fixture checks that no test leaks the setting.

References: float64 NumPy ``sc.vjp`` (the core, checked elsewhere against finite
differences), and for the exact methods in float64 independent central differences of
NumPy/SciPy functions (``np.linalg.eigh``, ``scipy.linalg.sqrtm``/``logm``).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest

import spectralcore as sc
from reference import covariance, fd_gradient, rel_err, with_spectrum

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
jax_test_util = pytest.importorskip("jax.test_util")
sla = pytest.importorskip("scipy.linalg")

N, BATCH = 6, 2
F32_TOL = 1e-4  # float32 JAX against float64 NumPy


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(autouse=True, scope="module")
def _x64_not_leaked():
    before = bool(jax.config.jax_enable_x64)
    yield
    assert bool(jax.config.jax_enable_x64) == before, "a test left jax_enable_x64 changed"


@pytest.fixture
def x32():
    """JAX's default 32-bit mode, even if the environment enabled x64 globally."""
    with jax.enable_x64(False):
        assert not jax.config.jax_enable_x64
        assert jnp.asarray(np.zeros(1)).dtype == jnp.float32
        yield


@pytest.fixture
def x64():
    """float64 in JAX for this test only (thread-local; restored on exit)."""
    with jax.enable_x64(True):
        assert jnp.asarray(np.zeros(1)).dtype == jnp.float64
        yield


@pytest.fixture
def a(rng):
    """A batch of two well-conditioned 6 × 6 sample covariances (float64 NumPy)."""
    return np.stack([covariance(rng, N, 30) for _ in range(BATCH)])


@pytest.fixture
def cot(rng):
    """Fixed cotangents: gw (2, 6), G (2, 6, 6)."""
    return rng.standard_normal((BATCH, N)), rng.standard_normal((BATCH, N, N))


# ------------------------------------------------------------------------------ cases
# Each case: a JAX loss of A built from the op (eigenvector terms through V**2, so the loss is
# invariant to eigenvector signs), and the same gradient from NumPy sc.vjp (float64).


def _sym(x):
    return (x + jnp.swapaxes(x, -1, -2)) / 2


CASES = {
    "eigh-exact": (lambda A, **k: sc.eigh(A, **k), {}),
    "eigh-taylor": (lambda A, **k: sc.eigh(A, **k), {"backward": "taylor", "degree": 9}),
    "sqrtm-mpa-lyapunov": (
        lambda A, **k: sc.sqrtm(A, **k),
        {"forward": "mpa", "backward": "lyapunov", "m": 3, "n": 3, "iterations": 6},
    ),
    "invsqrtm-eigh-lyapunov": (lambda A, **k: sc.invsqrtm(A, **k), {"backward": "lyapunov", "iterations": 6}),
    "matrix_power-0.5": (lambda A, **k: sc.matrix_power(A, 0.5, **k), {}),
    "matrix_function-log": (lambda A, **k: sc.matrix_function(A, jnp.log, lambda x: 1 / x, **k), {}),
}


def jax_loss(case, gw, G):
    fn, kwargs = CASES[case]

    def loss(A):
        out = fn(A, **kwargs)
        if isinstance(out, sc.EighResult):
            w, V = out
            return jnp.sum(gw * w) + jnp.sum(G * V**2)
        return jnp.sum(G * out)

    return loss


def numpy_grad(case, a, gw, G):
    """The same loss's gradient by NumPy sc.vjp in float64."""
    _, kwargs = CASES[case]
    if case.startswith("eigh"):
        (w, V), pullback = sc.vjp(sc.eigh, a, **kwargs)
        return pullback((gw, 2 * G * V))
    if case == "matrix_power-0.5":
        out, pullback = sc.vjp(sc.matrix_power, a, 0.5, **kwargs)
    elif case == "matrix_function-log":
        out, pullback = sc.vjp(sc.matrix_function, a, np.log, lambda x: 1 / x, **kwargs)
    else:
        op = sc.sqrtm if case.startswith("sqrtm") else sc.invsqrtm
        out, pullback = sc.vjp(op, a, **kwargs)
    return pullback(G)


# ------------------------------------------------------------------------------ float32 default


def test_default_is_float32_with_x64_disabled(x32, a):
    A = jnp.asarray(a)
    assert A.dtype == jnp.float32
    w, V = sc.eigh(A)
    S = sc.sqrtm(A)
    g = jax.grad(lambda X: jnp.sum(sc.sqrtm(X)))(A)
    for x in (w, V, S, g):
        assert isinstance(x, jax.Array)
        assert x.dtype == jnp.float32


@pytest.mark.parametrize("case", list(CASES))
def test_grad_float32_matches_numpy(x32, a, cot, case):
    gw, G = cot
    g = jax.grad(jax_loss(case, jnp.asarray(gw), jnp.asarray(G)))(jnp.asarray(a))
    assert g.dtype == jnp.float32 and g.shape == a.shape
    assert rel_err(g, numpy_grad(case, a, gw, G)) < F32_TOL


@pytest.mark.parametrize("case", list(CASES))
def test_value_and_grad(x32, a, cot, case):
    gw, G = cot
    loss = jax_loss(case, jnp.asarray(gw), jnp.asarray(G))
    A = jnp.asarray(a)
    value, g = jax.value_and_grad(loss)(A)
    assert value.shape == () and value.dtype == jnp.float32
    np.testing.assert_allclose(value, loss(A), rtol=1e-6)
    np.testing.assert_allclose(g, jax.grad(loss)(A), rtol=1e-6, atol=1e-6)
    assert rel_err(g, numpy_grad(case, a, gw, G)) < F32_TOL


@pytest.mark.parametrize("case", list(CASES))
def test_jit_and_jit_of_grad(x32, a, cot, case):
    gw, G = cot
    fn, kwargs = CASES[case]
    loss = jax_loss(case, jnp.asarray(gw), jnp.asarray(G))
    A = jnp.asarray(a)
    eager, jitted = fn(A, **kwargs), jax.jit(lambda X: fn(X, **kwargs))(A)
    assert type(jitted) is type(eager)
    for e, j in zip(jax.tree_util.tree_leaves(eager), jax.tree_util.tree_leaves(jitted)):
        assert j.dtype == e.dtype
        if case.startswith("eigh"):  # eigenvector signs may differ between compiled and eager
            e, j = jnp.abs(e), jnp.abs(j)
        np.testing.assert_allclose(j, e, rtol=1e-5, atol=1e-5)
    expected = numpy_grad(case, a, gw, G)
    assert rel_err(jax.jit(jax.grad(loss))(A), expected) < F32_TOL
    assert rel_err(jax.grad(jax.jit(loss))(A), expected) < F32_TOL
    np.testing.assert_allclose(jax.jit(loss)(A), loss(A), rtol=1e-5)


# ------------------------------------------------------------------------------ vmap


def _single_loss(case, gw, G):
    """Per-matrix loss: the batch loss is the sum of these over the batch."""
    fn, kwargs = CASES[case]

    def loss(A, gw, G):
        out = fn(A, **kwargs)
        if isinstance(out, sc.EighResult):
            return jnp.sum(gw * out[0]) + jnp.sum(G * out[1] ** 2)
        return jnp.sum(G * out)

    return loss


@pytest.mark.parametrize("case", list(CASES))
def test_vmap_leading_axis(x32, a, cot, case):
    gw, G = (jnp.asarray(c) for c in cot)
    fn, kwargs = CASES[case]
    A = jnp.asarray(a)
    batched = fn(A, **kwargs)  # the ops broadcast over leading axes themselves
    mapped = jax.vmap(lambda X: fn(X, **kwargs), in_axes=0)(A)
    for b, m in zip(jax.tree_util.tree_leaves(batched), jax.tree_util.tree_leaves(mapped)):
        np.testing.assert_allclose(jnp.abs(m), jnp.abs(b), rtol=1e-5, atol=1e-5)
    per_matrix = jax.vmap(jax.grad(_single_loss(case, gw, G)), in_axes=(0, 0, 0))(A, gw, G)
    assert rel_err(per_matrix, numpy_grad(case, a, *cot)) < F32_TOL
    grad_of_vmap = jax.grad(lambda X: jnp.sum(jax.vmap(_single_loss(case, gw, G))(X, gw, G)))(A)
    assert rel_err(grad_of_vmap, numpy_grad(case, a, *cot)) < F32_TOL


@pytest.mark.parametrize("axis", [1, 2])
@pytest.mark.parametrize("case", ["eigh-exact", "sqrtm-mpa-lyapunov", "matrix_power-0.5"])
def test_vmap_non_leading_axis(x32, a, cot, case, axis):
    """The batch axis sits between (or after) the matrix axes: in_axes=1 or 2."""
    gw, G = (jnp.asarray(c) for c in cot)
    moved = jnp.moveaxis(jnp.asarray(a), 0, axis)  # (6, 2, 6) or (6, 6, 2)
    fn, kwargs = CASES[case]
    out = jax.vmap(lambda X: fn(X, **kwargs), in_axes=axis, out_axes=0)(moved)
    ref = fn(jnp.asarray(a), **kwargs)
    for o, r in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(ref)):
        np.testing.assert_allclose(jnp.abs(o), jnp.abs(r), rtol=1e-5, atol=1e-5)
    g = jax.vmap(jax.grad(_single_loss(case, gw, G)), in_axes=(axis, 0, 0), out_axes=axis)(moved, gw, G)
    assert g.shape == moved.shape
    assert rel_err(jnp.moveaxis(g, axis, 0), numpy_grad(case, a, *cot)) < F32_TOL


@pytest.mark.parametrize("case", ["eigh-taylor", "matrix_function-log"])
def test_nested_vmap(x32, rng, case):
    a4 = np.stack([np.stack([covariance(rng, N, 30) for _ in range(2)]) for _ in range(3)])  # (3, 2, 6, 6)
    gw, G = rng.standard_normal(a4.shape[:-1]), rng.standard_normal(a4.shape)
    fn, kwargs = CASES[case]
    A = jnp.asarray(a4)
    nested = jax.vmap(jax.vmap(lambda X: fn(X, **kwargs)))(A)
    direct = fn(A, **kwargs)
    for n_, d in zip(jax.tree_util.tree_leaves(nested), jax.tree_util.tree_leaves(direct)):
        assert n_.shape == d.shape
        np.testing.assert_allclose(jnp.abs(n_), jnp.abs(d), rtol=1e-5, atol=1e-5)
    single = _single_loss(case, None, None)
    g = jax.jit(jax.vmap(jax.vmap(jax.grad(single))))(A, jnp.asarray(gw), jnp.asarray(G))
    expected = numpy_grad(case, a4.reshape(-1, N, N), gw.reshape(-1, N), G.reshape(-1, N, N))
    assert rel_err(g.reshape(-1, N, N), expected) < F32_TOL


# ------------------------------------------------------------------------------ float64 (x64)

EXACT = {
    # name: (function of a symmetrised jax array, the same function written in NumPy/SciPy)
    "eigh-exact": (
        lambda X: (lambda r: (r[0], r[1] ** 2))(sc.eigh(_sym(X))),
        lambda x: (lambda r: (r[0], r[1] ** 2))(np.linalg.eigh(x)),
    ),
    "sqrtm-eigh-exact": (
        lambda X: sc.sqrtm(_sym(X), forward="eigh", backward="exact"),
        lambda x: np.real(sla.sqrtm(x)),
    ),
    "invsqrtm-eigh-exact": (
        lambda X: sc.invsqrtm(_sym(X), forward="eigh", backward="exact"),
        lambda x: np.linalg.inv(np.real(sla.sqrtm(x))),
    ),
    "matrix_power-0.5": (lambda X: sc.matrix_power(_sym(X), 0.5), lambda x: np.real(sla.sqrtm(x))),
    "matrix_function-log": (
        lambda X: sc.matrix_function(_sym(X), jnp.log, lambda x: 1 / x),
        lambda x: np.real(sla.logm(x)),
    ),
}


def test_float64_under_x64(x64, a):
    A = jnp.asarray(a)
    assert A.dtype == jnp.float64
    for fn, _ in EXACT.values():
        for leaf in jax.tree_util.tree_leaves(fn(A)):
            assert leaf.dtype == jnp.float64
    g = jax.grad(lambda X: jnp.sum(sc.invsqrtm(X)))(A)
    assert g.dtype == jnp.float64
    # float32 input stays float32 even with x64 on
    assert sc.sqrtm(A.astype(jnp.float32)).dtype == jnp.float32


@pytest.mark.parametrize("case", list(EXACT))
def test_check_grads_exact_methods(x64, a, case):
    fn, _ = EXACT[case]
    jax_test_util.check_grads(fn, (jnp.asarray(a),), order=1, modes=["rev"])


def _richardson_fd(loss, x, h=3e-5):
    """Central differences, Richardson-extrapolated (O(h⁴)); h small enough for the closest
    eigenvalue gap here (0.03): measured 3e-11 (eigh) to 2e-10 (sqrtm) relative to jax.grad."""
    return (4 * fd_gradient(loss, x, h) - fd_gradient(loss, x, 2 * h)) / 3


@pytest.mark.parametrize("case", list(EXACT))
def test_grad_equals_finite_differences_float64(x64, rng, a, case):
    """jax.grad in float64 against central differences of an independent NumPy/SciPy
    function, per matrix of the batch."""
    fn, reference_fn = EXACT[case]
    shapes = ((N,), (N, N)) if case.startswith("eigh") else ((N, N),)
    cots = [rng.standard_normal((BATCH,) + s) for s in shapes]

    def jloss(X):
        out = fn(X)
        outs = out if isinstance(out, tuple) else (out,)
        return sum(jnp.sum(jnp.asarray(c) * o) for c, o in zip(cots, outs))

    def nloss(b):
        def loss(y):
            out = reference_fn(y)
            outs = out if isinstance(out, tuple) else (out,)
            return float(sum(np.sum(c[b] * o) for c, o in zip(cots, outs)))

        return loss

    g = jax.grad(jloss)(jnp.asarray(a))
    assert g.dtype == jnp.float64 and g.shape == a.shape
    for b in range(BATCH):
        assert rel_err(g[b], _richardson_fd(nloss(b), a[b])) < 1e-8


# ------------------------------------------------------------------------------ static options


def test_forward_options_are_static_under_jit(x32, a):
    A = jnp.asarray(a)
    f = jax.jit(lambda X, degree: sc.sqrtm(X, forward="mtp", degree=degree), static_argnames="degree")
    low, high = f(A, degree=3), f(A, degree=11)
    assert rel_err(low, high) > 1e-3  # a different degree is a different computation
    for degree, out in ((3, low), (11, high)):
        assert rel_err(out, sc.sqrtm(a, forward="mtp", degree=degree)) < F32_TOL

    # closures with a different degree, no static_argnames
    def closure(degree):
        return lambda X: sc.sqrtm(X, forward="mtp", degree=degree)

    for degree in (3, 11):
        out = jax.jit(closure(degree))(A)
        assert rel_err(out, sc.sqrtm(a, forward="mtp", degree=degree)) < F32_TOL


def test_backward_options_are_static_under_jit(x32, a, cot):
    gw, G = cot
    A, G_j = jnp.asarray(a), jnp.asarray(G)

    def loss(X, degree):
        return jnp.sum(G_j * sc.sqrtm(X, backward="taylor", degree=degree, eps=1.0))

    grad = jax.jit(jax.grad(loss), static_argnums=1)
    results = {}
    for degree in (1, 9):
        results[degree] = grad(A, degree)
        expected = sc.vjp(sc.sqrtm, a, backward="taylor", degree=degree, eps=1.0)[1](G)
        assert rel_err(results[degree], expected) < F32_TOL
    assert rel_err(results[1], results[9]) > 1e-3
    # an instance passes options too, under jit
    taylor1 = sc.methods.Taylor(degree=1, eps=1.0)
    by_instance = jax.jit(jax.grad(lambda X: jnp.sum(G_j * sc.sqrtm(X, backward=taylor1))))(A)
    np.testing.assert_allclose(by_instance, results[1], rtol=1e-6, atol=1e-6)


def test_traced_option_is_rejected(x32, a):
    """Options are configuration, not data: a traced degree is refused."""
    A = jnp.asarray(a)
    with pytest.raises(ValueError, match="degree"):
        jax.jit(lambda X, d: sc.eigh(X, backward="taylor", degree=d)[0])(A, 3)


# ------------------------------------------------------------------------------ value checks


def test_value_checks_skipped_under_jit(x32, a):
    """Documented behaviour: the value checks (finite, symmetric) read the data, so they run
    only on concrete arrays. Eagerly an asymmetric or non-finite A raises SpectralError; inside
    ``jax.jit`` (and likewise under grad/vmap, whose inputs are tracers) they are skipped even
    with ``check=True`` — no error, the computation runs on whatever A holds. The static checks
    (ndim, square, floating dtype) still raise while tracing."""
    A = jnp.asarray(a)
    asym = A.at[0, 0, 1].add(1.0)
    nonfinite = A.at[1, 2, 2].set(jnp.nan)
    for bad in (asym, nonfinite):
        with pytest.raises(sc.SpectralError):
            sc.eigh(bad, check=True)
        with pytest.raises(sc.SpectralError):
            sc.sqrtm(bad)
        w, V = jax.jit(lambda X: sc.eigh(X, check=True))(bad)  # no error
        assert w.shape == (BATCH, N) and V.shape == (BATCH, N, N)
        jax.jit(lambda X: sc.sqrtm(X, check=True))(bad)
        jax.grad(lambda X: jnp.sum(sc.eigh(X)[0]))(bad)
        jax.vmap(sc.sqrtm)(bad)
    w, _ = jax.jit(lambda X: sc.eigh(X, check=True))(asym)
    assert bool(jnp.all(jnp.isfinite(w)))
    sc.eigh(asym, check=False)  # check=False skips them eagerly too
    with pytest.raises(sc.SpectralError, match="square"):
        jax.jit(sc.eigh)(A[..., :5])
    with pytest.raises(sc.SpectralError, match="floating"):
        jax.jit(sc.eigh)(A.astype(jnp.int32))


# ------------------------------------------------------------------------------ power iteration


def test_power_iteration_accepted_under_jit(x32, rng, a):
    """``accepted`` is computed with masks, not Python branches, so it survives jit; the
    second matrix has rank 4, so two pairs are rejected (returned as zeros)."""
    deficient = with_spectrum(rng, [0.0, 0.0, 1.0, 2.0, 3.0, 4.0])
    x = np.stack([a[0], deficient]).astype(np.float32)
    expected = sc.eigh(x, forward="power-iteration", check=False)  # NumPy, eager
    jitted = jax.jit(lambda X: sc.eigh(X, forward="power-iteration"))(jnp.asarray(x))
    assert isinstance(jitted, sc.EighResult)
    assert jitted.accepted is not None and jitted.accepted.dtype == jnp.int32
    np.testing.assert_array_equal(jitted.accepted, [N, 4])
    np.testing.assert_array_equal(jitted.accepted, expected.accepted)
    np.testing.assert_allclose(jitted[0], expected[0], rtol=1e-5, atol=1e-5)
    assert bool(jnp.all(jitted[0][1, :2] == 0)) and bool(jnp.all(jitted[1][1, :, :2] == 0))
    # gradient through the power-iteration forward under jit equals the NumPy VJP (full-rank input)
    gw = rng.standard_normal((BATCH, N))
    opts = {"forward": "power-iteration", "backward": "exact"}
    g = jax.jit(jax.grad(lambda X: jnp.sum(jnp.asarray(gw) * sc.eigh(X, **opts)[0])))(jnp.asarray(a))
    assert rel_err(g, sc.vjp(sc.eigh, a, **opts)[1]((gw, None))) < F32_TOL


# ------------------------------------------------------------------------------ EighResult pytree


def test_eigh_result_is_a_pytree(x32, a, cot):
    A = jnp.asarray(a)
    r = sc.eigh(A)
    assert len(jax.tree_util.tree_leaves(r)) == 2  # accepted is None
    pi = sc.eigh(A, forward="power-iteration")
    assert len(jax.tree_util.tree_leaves(pi)) == 3
    doubled = jax.tree_util.tree_map(lambda x: 2 * x, r)
    assert isinstance(doubled, sc.EighResult)
    # jax.vjp with an EighResult cotangent
    gw, G = cot
    out, pullback = jax.vjp(sc.eigh, A)
    (gA,) = pullback(sc.EighResult(jnp.asarray(gw), 2 * jnp.asarray(G) * out[1]))
    assert rel_err(gA, numpy_grad("eigh-exact", a, gw, G)) < F32_TOL


def test_eigh_result_pytree_in_fresh_interpreter(tmp_path):
    """The EighResult returned by ``sc.vjp`` on a jax array must be a pytree from the start
    (the adapter registers it): returning it from ``jax.jit`` or flattening it must not depend
    on whether a public op has run on a jax array earlier in the process."""
    script = textwrap.dedent("""
        import numpy as np, jax, jax.numpy as jnp, spectralcore as sc
        A = jnp.asarray(np.eye(3) * np.array([1.0, 2.0, 3.0]), dtype=jnp.float32)
        out, _ = sc.vjp(sc.eigh, A)
        print("leaves", len(jax.tree_util.tree_leaves(out)))
        w, V = jax.jit(lambda X: sc.vjp(sc.eigh, X)[0])(A)
        print("jit ok")
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tempfile.gettempdir()
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "leaves 2" in proc.stdout and "jit ok" in proc.stdout, proc.stdout


# ------------------------------------------------------------------------------ unused outputs


@pytest.mark.parametrize("transform", ["grad", "jit-grad"])
def test_eigenvalue_only_loss_at_a_tie(x32, transform):
    """L = Σλ = trace(A) has gradient I everywhere, also where two eigenvalues are equal.

    The core treats a None cotangent as zero and skips the 1/(λj − λi) kernel for it, so
    ``sc.vjp(...)[1]((gw, None))`` is exact at ties, and the torch adapter passes None too
    (``set_materialize_grads(False)``). Through ``jax.grad`` the unused eigenvector output
    must count as zero the same way — not as a zero array multiplied by the infinite kernel
    entry of the tied pair (0 · inf = NaN)."""
    a = np.stack([np.diag([1.0, 1.0, 2.0, 3.0, 4.0, 5.0])] * BATCH).astype(np.float32)
    _, pullback = sc.vjp(sc.eigh, a)
    np.testing.assert_allclose(
        pullback((np.ones((BATCH, N), np.float32), None)), np.broadcast_to(np.eye(N), a.shape), atol=1e-6
    )
    grad = jax.grad(lambda X: jnp.sum(sc.eigh(X)[0]))
    if transform == "jit-grad":
        grad = jax.jit(grad)
    g = grad(jnp.asarray(a))
    assert bool(jnp.all(jnp.isfinite(g))), f"jax.grad of sum(eigenvalues) at a tie: {g[0]}"
    np.testing.assert_allclose(g, np.broadcast_to(np.eye(N), a.shape), atol=1e-6)


# ------------------------------------------------------------------------------ matmul precision


def _dot_precisions(path: str, kw: dict, A) -> list[str]:
    """The precision of every matrix product traced by forward + backward of ``sc.sqrtm``, through
    the adapter (``jax.grad``) or the explicit ``sc.vjp``."""
    import re

    def adapter(X):
        return jax.grad(lambda Y: jnp.sum(sc.sqrtm(Y, **kw)))(X)

    def explicit(X):
        out, pullback = sc.vjp(sc.sqrtm, X, **kw)
        return pullback(jnp.ones_like(out))

    text = str(jax.make_jaxpr(adapter if path == "jax.grad" else explicit)(A))
    heads = [b.split("preferred_element_type")[0] for b in text.split("dot_general[")[1:]]
    assert heads, "no matrix product traced"
    return [m.group(1) if (m := re.search(r"precision=\(?([A-Za-z.]+)", h)) else "unset" for h in heads]


@pytest.mark.parametrize("path", ["jax.grad", "sc.vjp"])
@pytest.mark.parametrize(
    "kw",
    [
        dict(forward="newton-schulz", backward="newton-schulz"),
        dict(forward="mpa", backward="lyapunov"),
        dict(forward="eigh", backward="taylor"),
    ],
    ids=lambda kw: f"{kw['forward']}+{kw['backward']}",
)
def test_matmuls_full_precision_unless_the_user_chose(x32, a, kw, path):
    """JAX's GPU default rounds float32 products to TF32 (1e-4 error in the Newton–Schulz square
    root, measured on an H200); both paths ask for HIGHEST unless the user set a precision."""
    A = jnp.asarray(a, dtype=jnp.float32)
    assert set(_dot_precisions(path, kw, A)) == {"Precision.HIGHEST"}
    with jax.default_matmul_precision("tensorfloat32"):  # honoured (jnp.linalg.solve keeps its own HIGHEST)
        assert "Precision.HIGH" in _dot_precisions(path, kw, A)
    assert jax.config.jax_default_matmul_precision is None  # nothing leaked


# ------------------------------------------------------------------------------ reverse-mode program

APPROXIMATE = [
    dict(forward="mpa", backward="lyapunov"),
    dict(forward="mtp", backward="lyapunov"),
    dict(forward="newton-schulz", backward="lyapunov"),
    dict(forward="newton-schulz", backward="newton-schulz"),
    dict(forward="eigh", backward="taylor"),
]


@pytest.mark.parametrize("kw", APPROXIMATE, ids=lambda kw: f"{kw['forward']}+{kw['backward']}")
def test_reverse_mode_compiles_to_the_methods_own_backward(x32, a, kw):
    """``jax.jit(jax.grad)`` of an approximate configuration compiles to the program of its
    explicit forward + VJP (``sc.vjp``), within 5% of its HLO lines (measured 1.00–1.02); JAX's
    transpose of the Lyapunov JVP compiled to 1.47–1.59× those and ran 1.3–1.7× plain JAX."""
    A = jnp.asarray(a, dtype=jnp.float32)

    def adapter(X):
        return jax.grad(lambda Y: jnp.sum(sc.sqrtm(Y, check=False, **kw)))(X)

    def explicit(X):
        out, pullback = sc.vjp(sc.sqrtm, X, check=False, **kw)
        return pullback(jnp.ones_like(out))

    grad, vjp = (len(jax.jit(f).lower(A).compile().as_text().splitlines()) for f in (adapter, explicit))
    assert grad <= 1.05 * vjp, f"jit(grad): {grad} HLO lines, jit of the explicit forward + VJP: {vjp}"
