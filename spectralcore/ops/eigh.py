"""``sc.eigh``: eigendecomposition with a pluggable forward and a pluggable gradient."""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from ..dispatch import public_op
from ..method import EighBackward, EighForward, EighResult, Method
from .base import MethodSlot, Op, resolve_methods


@dataclasses.dataclass(frozen=True)
class EighConfig:
    forward: EighForward
    backward: EighBackward
    check: bool = True


class EighOp(Op):
    name = "eigh"

    def forward(self, xp: Any, A: Any, config: EighConfig) -> tuple[EighResult, Any]:
        result = config.forward(xp, A)
        return result, (A, result)

    def backward(self, xp: Any, config: EighConfig, residuals: Any, cotangent: Any) -> Any:
        A, (w, V) = residuals
        gw, gV = cotangent
        if gw is None and gV is None:
            return xp.zeros_like(A)
        return config.backward.vjp(xp, A, w, V, gw, gV)

    def jvp(self, xp: Any, config: EighConfig, residuals: Any, dA: Any) -> tuple[Any, Any]:
        A, (w, V) = residuals
        return config.backward.jvp(xp, A, w, V, dA)

    def cotangent_shapes(self, A: Any, out: EighResult) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return tuple(out[0].shape), tuple(out[1].shape)


EIGH = EighOp()


@public_op(EIGH)
def eigh(
    A: Any, *, forward: str | Method = "eigh", backward: str | Method = "exact", check: bool = True, **options: Any
) -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of symmetric ``A`` (..., n, n), like ``xp.linalg.eigh``.

    ``forward`` computes the decomposition, ``backward`` its gradient
    gA = sym(V (K̃ ∘ (Vᵀ gV) + diag(gw)) Vᵀ) with K̃_ij ≈ 1/(λj − λi) (TPAMI 2021 eq. 2):
    ``"exact"`` is the analytic rule, the others bound it near repeated eigenvalues (see
    ``sc.methods("eigh-backward")``). Keyword ``options`` go to the named method(s) that
    declare them (``degree=9`` for ``"taylor"``). ``check=False`` skips the finiteness and
    symmetry checks (they read the data). float16/bfloat16 are computed in float32.

    Returns an :class:`EighResult` ``(eigenvalues, eigenvectors)``.

    >>> import array_api_strict as xp, spectralcore as sc
    >>> w, V = sc.eigh(xp.asarray([[2.0, 1.0], [1.0, 2.0]]), backward="taylor", degree=9)
    >>> [round(float(x), 6) for x in w]
    [1.0, 3.0]
    """
    methods = resolve_methods(
        "eigh",
        [MethodSlot("forward", ("eigh-forward",), forward), MethodSlot("backward", ("eigh-backward",), backward)],
        options,
    )
    # each slot's kinds fix the class; the decorator runs the op on this configuration, so sc.eigh
    # returns the EighResult annotated above
    forward_, backward_ = cast(EighForward, methods["forward"]), cast(EighBackward, methods["backward"])
    return EighConfig(forward_, backward_, check)  # type: ignore[return-value]
