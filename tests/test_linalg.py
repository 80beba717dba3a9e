"""The eigensolver choice: visible, overridable, and a clean fallback without CuPy or a GPU."""

from __future__ import annotations

import importlib.util
import sys
import types

import numpy as np
import pytest

import spectralcore as sc
from reference import with_spectrum
from spectralcore.linalg import chosen_solver

HAS_CUPY = importlib.util.find_spec("cupy") is not None


def test_auto_is_native_off_gpu(rng):
    torch = pytest.importorskip("torch")
    a = with_spectrum(rng, [1.0, 2.0, 3.0])
    assert chosen_solver(a) == "native"
    assert chosen_solver(torch.asarray(a)) == "native"
    assert chosen_solver(a, "native") == "native"


def test_option_is_listed_and_validated(rng):
    eigh_forward = next(i for i in sc.methods("eigh-forward") if i.name == "eigh")
    assert eigh_forward.options == {"solver": "auto"}
    with pytest.raises(ValueError, match="option `solver` must be one of .*got 'magma'"):
        sc.eigh(np.eye(3), solver="magma")


def test_native_equals_auto_off_gpu(rng):
    a = with_spectrum(rng, [1.0, 2.0, 3.0, 4.0])
    w1, V1 = sc.eigh(a)
    w2, V2 = sc.eigh(a, solver="native")
    np.testing.assert_array_equal(w1, w2)
    S = sc.sqrtm(a, solver="native")
    np.testing.assert_allclose(S @ S, a, atol=1e-12)


def test_cupy_requested_for_a_host_array_is_a_clear_error(rng):
    with pytest.raises(ValueError, match="solver='cupy' needs an array on a CUDA device, got one on cpu"):
        sc.eigh(with_spectrum(rng, [1.0, 2.0]), solver="cupy")


@pytest.mark.skipif(HAS_CUPY, reason="checks the error without CuPy")
def test_cupy_requested_without_cupy_is_a_clear_error(rng):
    strict = pytest.importorskip("array_api_strict")
    A = strict.asarray(with_spectrum(rng, [1.0, 2.0]), device=strict.Device("device1"))  # not host memory
    with pytest.raises(ValueError, match="solver='cupy' needs CuPy"):
        sc.eigh(A, solver="cupy")


def test_cupy_solver_matches_torch_on_gpu(rng):
    torch = pytest.importorskip("torch")
    pytest.importorskip("cupy")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    a = torch.asarray(np.stack([with_spectrum(rng, [1.0, 2.0, 3.0, 4.0]) for _ in range(8)]), device="cuda")
    assert chosen_solver(a) == "cupy"
    w, V = sc.eigh(a)
    w_ref = torch.linalg.eigh(a)[0]
    torch.testing.assert_close(w, w_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close((V * w[..., None, :]) @ V.mT, a, rtol=1e-10, atol=1e-10)


@pytest.fixture
def stand_in_cupy(monkeypatch):
    """adapters/cupy_solver replaced by NumPy's eigh on the DLPack view, CuPy reported installed
    and arrays reported off the host: the "cupy" route runs on CPU. Returns the list of array
    types it was called with."""
    from spectralcore import linalg

    calls = []

    def eigh(A):
        calls.append(type(A))
        return np.linalg.eigh(np.from_dlpack(A))

    stand_in = types.ModuleType("spectralcore.adapters.cupy_solver")
    stand_in.eigh = eigh
    monkeypatch.setitem(sys.modules, "spectralcore.adapters.cupy_solver", stand_in)
    monkeypatch.setattr(linalg, "_cupy_installed", lambda: True)
    monkeypatch.setattr(linalg, "on_cpu", lambda A: False)
    return calls


def test_cupy_path_round_trips_through_dlpack_with_a_stand_in_solver(rng, stand_in_cupy):
    """The "cupy" route on CPU: through the torch custom op spectralcore::cupy_eigh, values and
    gradients equal the native solver's, back as torch tensors."""
    torch = pytest.importorskip("torch")
    a = torch.asarray(np.stack([with_spectrum(rng, [1.0, 2.0, 3.0, 5.0]) for _ in range(3)]))
    results = {}
    for solver in ("native", "cupy"):
        X = a.clone().requires_grad_()
        S = sc.sqrtm(X, solver=solver)
        S.pow(2).sum().backward()
        results[solver] = (S.detach(), X.grad)
    assert stand_in_cupy == [torch.Tensor]  # the forward asked the stand-in once; the backward reused (w, V)
    assert isinstance(results["cupy"][0], torch.Tensor)
    for got, want in zip(results["cupy"], results["native"]):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_cupy_path_is_one_node_under_torch_compile(rng, stand_in_cupy):
    torch = pytest.importorskip("torch")
    a = torch.asarray(np.stack([with_spectrum(rng, [1.0, 2.0, 4.0]) for _ in range(2)]), dtype=torch.float32)
    fn = lambda A: sc.eigh(A, solver="cupy", backward="taylor", check=False)  # noqa: E731
    torch._dynamo.reset()
    explained = torch._dynamo.explain(fn)(a)
    assert (explained.graph_count, explained.graph_break_count) == (1, 0)
    assert "spectralcore.cupy_eigh" in str(explained.graphs[0].code)
    w, _ = torch.compile(fn, fullgraph=True, backend="eager")(a)
    torch.testing.assert_close(w, torch.linalg.eigvalsh(a))


def test_numpy_arrays_take_the_dlpack_route(rng, stand_in_cupy):
    w, V = sc.eigh(with_spectrum(rng, [1.0, 3.0]), solver="cupy")
    assert stand_in_cupy == [np.ndarray]
    np.testing.assert_allclose(w, [1.0, 3.0])


def test_mpa_auto_solve_avoids_torchs_threaded_lu_above_150():
    """torch's CPU LU of a batch of 151 × 151 or larger matrices fails with two or more threads
    (MKL's SLASWP error, then "Pivots given to lu_solve must all be greater or equal to 1":
    pytorch/pytorch#142815), so ``solve="auto"`` takes the Newton steps there; NumPy keeps LU."""
    torch = pytest.importorskip("torch")
    mpa = sc.methods.MPA()
    x = np.random.default_rng(0).standard_normal((2, 160, 640))
    a = x @ x.transpose(0, 2, 1) / 640  # eigenvalues in about [0.25, 2.25]
    assert mpa.chosen_solve(a) == "lu"
    assert mpa.chosen_solve(torch.asarray(a)) == "newton"
    assert mpa.chosen_solve(torch.asarray(a[:, :150, :150])) == "lu"
    w, V = np.linalg.eigh(a)
    expected = (V * np.sqrt(w)[:, None, :]) @ V.transpose(0, 2, 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        S = sc.sqrtm(torch.asarray(a, dtype=torch.float32), forward="mpa").double().numpy()
        assert np.linalg.norm(S - expected) / np.linalg.norm(expected) < 1e-4
        try:  # an explicit solve="lu": right where this torch build's LU is, else the fault named
            S_lu = sc.sqrtm(torch.asarray(a, dtype=torch.float32), forward="mpa", solve="lu").double().numpy()
        except RuntimeError as error:
            assert "pytorch/pytorch#142815" in str(error) and "solve='newton'" in str(error)
        else:
            assert np.linalg.norm(S_lu - expected) / np.linalg.norm(expected) < 1e-4
    finally:
        torch.set_num_threads(threads)
