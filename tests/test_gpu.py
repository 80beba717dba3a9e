"""The CUDA paths, run where a CUDA device is visible (skipped elsewhere; CI has none): CUDA-graph
capture of the capture-safe methods, MPA's automatic solve on CUDA, and CuPy's eigh through the
torch custom op, eager and under torch.compile. Their CPU counterparts are in
test_capture_safety.py and test_linalg.py."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device", allow_module_level=True)

import spectralcore as sc  # noqa: E402
from reference import covariance  # noqa: E402
from spectralcore.adapters.torch_timing import graphed_step, step  # noqa: E402
from spectralcore.linalg import chosen_solver  # noqa: E402
from spectralcore.report.sections.speed import CAPTURE_SAFE, SQRTM  # noqa: E402

HAS_CUPY = importlib.util.find_spec("cupy") is not None


@pytest.fixture
def batch(rng) -> torch.Tensor:
    return torch.asarray(np.stack([covariance(rng, 32, 128) for _ in range(8)]), dtype=torch.float32, device="cuda")


@pytest.mark.parametrize("name", CAPTURE_SAFE)
@pytest.mark.parametrize("check", [False, True])
def test_cuda_graph_replay_equals_eager(batch, name, check):
    fn = lambda A: sc.sqrtm(A, check=check, **SQRTM[name])  # noqa: E731 - check=True: skipped while capturing
    G = torch.randn_like(batch)
    replay, eager = graphed_step(fn, batch, G), step(fn, batch, G)
    torch.testing.assert_close(replay().clone(), eager(), rtol=1e-5, atol=1e-5)


def test_mpa_picks_newton_on_cuda(batch):
    assert sc.methods.MPA().chosen_solve(batch) == "newton"
    torch.testing.assert_close(
        sc.sqrtm(batch, forward="mpa"), sc.sqrtm(batch, forward="mpa", solve="lu"), rtol=1e-5, atol=1e-5
    )


@pytest.mark.skipif(not HAS_CUPY, reason="CuPy not installed")
def test_cupy_eigh_matches_torch_eager_and_compiled(batch):
    assert chosen_solver(batch) == "cupy"
    w_ref = torch.linalg.eigvalsh(batch.double())
    for fn in (sc.eigh, torch.compile(lambda A: sc.eigh(A, check=False), fullgraph=True)):
        X = batch.clone().requires_grad_()
        w, V = fn(X)
        torch.testing.assert_close(w.double(), w_ref, rtol=1e-5, atol=1e-5)
        (w.sum() + V.pow(2).sum()).backward()  # ‖V‖² = n: its gradient is zero, so gA = I
        torch.testing.assert_close(X.grad, torch.eye(32, device="cuda").expand_as(X), rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not HAS_CUPY, reason="CuPy not installed")
def test_cupy_eigh_on_a_side_stream(batch):
    """The custom op runs CuPy on torch's current stream: results are ordered with it."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        A = batch * 2  # produced on the side stream
        w, _ = sc.eigh(A)
        total = w.sum(-1)
    torch.cuda.current_stream().wait_stream(side)
    torch.testing.assert_close(total, 2 * batch.diagonal(dim1=-2, dim2=-1).sum(-1), rtol=1e-4, atol=1e-4)
