"""torch.compile(fullgraph=True) of spectralcore calls is quiet: one graph, no graph break, the
eager result, and not one warning (``warnings`` or a torch log record at WARNING or above) while
Dynamo and AOTAutograd trace the forward, or the forward and the backward.

Dynamo warns once for every ``functools.lru_cache``-wrapped function it traces through ("Silent
incorrectness is only a *potential* risk"); array_api_compat's ``array_namespace``, ``device``
and ``is_*_array`` are built on such type tests, so the traced path reads the namespace and the
device through ``spectralcore._array.namespace``/``device`` instead.

The backend is aot_eager: it runs Dynamo and AOTAutograd (the inference graph, or the joint
graph and the backward) as inductor does, in a fraction of the time; inductor's own code
generation adds no spectralcore code to trace.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch._dynamo.utils import counters  # noqa: E402 - after the importorskip

import spectralcore as sc  # noqa: E402

N = 6


def _eigh(A):
    """Eigenvalues and squared eigenvectors (blind to the eigenvectors' signs), so the
    backward gets both cotangents."""
    w, V = sc.eigh(A, backward="taylor")
    return w[..., None, :] + V * V


def _shared(A):
    """log A and A^-½ from one eigendecomposition (``eig=``)."""
    E = sc.eigh(A)
    return sc.logm(A, eig=E) + sc.matrix_power(A, -0.5, eig=E)


CASES = {
    "eigh-taylor": _eigh,
    "sqrtm-mpa-lyapunov": lambda A: sc.sqrtm(A, forward="mpa", backward="lyapunov"),
    "invsqrtm-newton-schulz": lambda A: sc.invsqrtm(A, forward="newton-schulz", backward="newton-schulz"),
    "matrix_power": lambda A: sc.matrix_power(A, 0.5),
    "logm": lambda A: sc.logm(A),
    "expm": lambda A: sc.expm(A),
    "shared-eig": _shared,
}


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _torch_loggers() -> list[logging.Logger]:
    """ "torch" and every torch logger that does not pass its records on to it (torch._dynamo,
    torch._inductor, ... set propagate=False)."""
    names = [n for n in logging.root.manager.loggerDict if n == "torch" or n.startswith("torch.")]
    loggers = [logging.getLogger(n) for n in names]
    return [lg for lg in loggers if lg.name == "torch" or not lg.propagate]


@pytest.fixture
def A(rng) -> torch.Tensor:
    """Two well-conditioned SPD matrices (eigenvalues in about [0.7, 1.6]), so that every
    approximate method meets its accuracy claim and eager check=True has nothing to warn about."""
    X = rng.standard_normal((2, N, 4 * N)) / np.sqrt(4 * N)
    return torch.asarray(np.eye(N) + 0.3 * X @ X.transpose(0, 2, 1))


@pytest.mark.parametrize("mode", ["forward", "backward"])
@pytest.mark.parametrize("case", list(CASES))
def test_compile_is_quiet_and_matches_eager(A, case, mode):
    fn = CASES[case]
    weights = torch.arange(N * N, dtype=A.dtype).reshape(N, N) / (N * N)

    def loss(X):
        return (fn(X) * weights).sum()

    def run(f):
        X = A.clone().requires_grad_(mode == "backward")
        out = f(X)
        grad = torch.autograd.grad(out, X)[0] if mode == "backward" else None
        return out.detach(), grad

    expected, expected_grad = run(loss)

    torch._dynamo.reset()
    counters.clear()
    handler = _Records()
    loggers = _torch_loggers()
    for logger in loggers:
        logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out, grad = run(torch.compile(loss, fullgraph=True, backend="aot_eager"))
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        graphs, breaks = counters["stats"]["unique_graphs"], sum(counters["graph_break"].values())
        torch._dynamo.reset()

    messages = [f"{w.category.__name__} at {w.filename}:{w.lineno}: {str(w.message).splitlines()[0]}" for w in caught]
    messages += [f"log {r.name} {r.levelname}: {r.getMessage().splitlines()[0]}" for r in handler.records]
    assert not messages, "\n".join(messages)
    assert (graphs, breaks) == (1, 0)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    if mode == "backward":
        torch.testing.assert_close(grad, expected_grad, rtol=1e-10, atol=1e-12)


def test_namespace_and_device_agree_with_array_api_compat():
    """spectralcore._array.namespace/device, which the traced path uses, give what
    array_api_compat gives, for registered (torch) and unregistered (NumPy) arrays."""
    import array_api_compat

    from spectralcore import _array

    arrays = [torch.ones(2, dtype=torch.float64), torch.nn.Parameter(torch.ones(2)), np.ones(2), np.float64(1.0)]
    for x in arrays:
        assert _array.namespace(x) is array_api_compat.array_namespace(x)
        assert _array.device(x) == array_api_compat.device(x)
    assert _array.namespace(arrays[0], arrays[1]) is array_api_compat.array_namespace(arrays[0], arrays[1])
    with pytest.raises(TypeError):
        _array.namespace(arrays[0], arrays[2])  # mixed frameworks: array_api_compat's error
