"""The iterative methods never synchronise with the device and use no kernel a CUDA graph cannot
capture, checked on CPU: every aten op of a forward + backward through the torch adapter is
recorded with a TorchDispatchMode (the same ops run on CUDA). Reading a device value
(``.item()``, ``bool()``, ``float()``) is ``aten._local_scalar_dense``; torch's LAPACK-style
solvers check their info on the host and break capture (measured on an H100, torch 2.11:
solve_ex, lu_factor_ex, inv_ex), as do data-dependent shapes (nonzero)."""

from __future__ import annotations

import collections

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import spectralcore as sc  # noqa: E402
from reference import covariance  # noqa: E402
from spectralcore.adapters.torch import ADAPTER  # noqa: E402
from spectralcore.adapters.torch_timing import HOST_SYNC, count_ops, step  # noqa: E402

UNSAFE = {
    HOST_SYNC,
    "aten.item",
    "aten.nonzero",
    "aten.is_nonzero",
    "aten.equal",
    "aten._linalg_solve_ex",
    "aten.linalg_lu_factor_ex",
    "aten.linalg_inv_ex",
    "aten._linalg_eigh",
    "aten.linalg_cholesky_ex",
    "aten._linalg_check_errors",
}


def recorded_ops(fn, A: torch.Tensor) -> collections.Counter:
    return count_ops(step(fn, A, torch.ones_like(A))).ops


@pytest.fixture
def batch(rng) -> torch.Tensor:
    return torch.asarray(np.stack([covariance(rng, 16, 64) for _ in range(4)]), dtype=torch.float32)


@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("backward", ["lyapunov", "newton-schulz"])
@pytest.mark.parametrize("forward", ["mpa", "mtp", "newton-schulz"])
def test_iterative_methods_are_capture_safe(batch, forward, backward, inverse):
    fn = sc.invsqrtm if inverse else sc.sqrtm
    options = {"solve": "newton"} if forward == "mpa" else {}  # what solve="auto" picks on CUDA
    ops = recorded_ops(lambda X: fn(X, forward=forward, backward=backward, check=False, **options), batch)
    assert ops["aten.bmm"] > 0
    assert not UNSAFE & set(ops), {op: ops[op] for op in UNSAFE & set(ops)}


def test_the_recorder_sees_what_would_break_capture(batch):
    """The value checks (check=True, the default) read A: one host synchronisation per call;
    MPA with solve="lu" calls torch.linalg.solve."""
    checked = recorded_ops(lambda X: sc.sqrtm(X, forward="mpa", backward="lyapunov"), batch)
    assert checked[HOST_SYNC] >= 1
    lu = recorded_ops(lambda X: sc.sqrtm(X, forward="mpa", backward="lyapunov", solve="lu", check=False), batch)
    assert lu["aten._linalg_solve_ex"] == 1


class PretendCuda(torch.Tensor):
    @property
    def is_cuda(self) -> bool:
        return True


def test_value_checks_are_skipped_while_a_cuda_graph_is_captured(monkeypatch):
    A = torch.eye(3).as_subclass(PretendCuda)
    monkeypatch.setattr(torch.cuda, "is_current_stream_capturing", lambda: False)
    assert ADAPTER.inspectable(A) is not None
    monkeypatch.setattr(torch.cuda, "is_current_stream_capturing", lambda: True)
    assert ADAPTER.inspectable(A) is None
    assert ADAPTER.inspectable(torch.eye(3)) is not None  # a CPU tensor never asks CUDA


def test_op_count_separates_kernels_from_views(batch):
    """count_ops (the report's 'kernels' column): plain Newton–Schulz ×5 under autograd runs
    15 products forward and 26 backward: two per product, less one each for the two products
    with the constant Z₀ = I, and none for the last T₄ Z₄, which the output does not use."""
    from spectralcore.adapters.torch_timing import plain_newton_schulz

    count = count_ops(step(plain_newton_schulz, batch, torch.ones_like(batch)))
    assert count.matmuls == 15 + 26
    assert count.host_syncs == 0
    assert count.launches < sum(count.ops.values())  # views (transposes, expands) are not launches


@pytest.mark.parametrize("forward", ["mpa", "mtp", "newton-schulz"])
def test_off_the_host_no_constant_table_is_copied_to_the_device(batch, forward, monkeypatch):
    """The fused torch helper that builds a table from Python numbers (``monomials``' exponents:
    ``aten.lift_fresh``, a host-to-device copy on CUDA, which capture forbids) runs in host memory
    only; off it (on_cpu False, as on CUDA) the generic
    forms run instead, with the same gradient to rounding."""
    from spectralcore import products

    def fn(X):
        return sc.sqrtm(
            X, forward=forward, backward="lyapunov", check=False, **({"solve": "newton"} if forward == "mpa" else {})
        )

    A = batch.double()
    on_host = step(fn, A, torch.ones_like(A))()
    monkeypatch.setattr(products, "on_cpu", lambda a: False)
    ops = recorded_ops(fn, A)
    assert "aten.lift_fresh" not in ops and not UNSAFE & set(ops)
    torch.testing.assert_close(step(fn, A, torch.ones_like(A))(), on_host, rtol=1e-12, atol=1e-12)
