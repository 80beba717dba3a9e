"""The pluggy hook specifications: how a plugin contributes methods and array adapters.

A plugin is any object or module with functions marked ``@hookimpl`` and named as below.
Built-in methods (``spectralcore.plugins.*``) use exactly these hooks. Installed packages are
found through the entry-point group ``spectralcore``; ``sc.register(obj)`` adds one in-process.

Example::

    from spectralcore import hookimpl, KernelBackward

    @dataclasses.dataclass(frozen=True)
    class Mine(KernelBackward):
        name = "mine"
        eps: float = 1e-3
        def kernel(self, xp, w): ...

    @hookimpl
    def spectralcore_eigh_backward():
        return [Mine]
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "spectralcore"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def spectralcore_eigh_forward() -> list[type]:
    """Return :class:`~spectralcore.EighForward` subclasses (``forward=`` of ``sc.eigh``)."""


@hookspec
def spectralcore_eigh_backward() -> list[type]:
    """Return :class:`~spectralcore.EighBackward` subclasses (``backward=`` of ``sc.eigh``;
    also usable as ``backward=`` of ``sqrtm``, ``invsqrtm`` and the spectral functions)."""


@hookspec
def spectralcore_sqrtm_forward() -> list[type]:
    """Return :class:`~spectralcore.SqrtmForward` subclasses (``forward=`` of sqrtm/invsqrtm)."""


@hookspec
def spectralcore_sqrtm_backward() -> list[type]:
    """Return :class:`~spectralcore.SqrtmBackward` subclasses (``backward=`` of sqrtm/invsqrtm)."""


@hookspec(firstresult=True)
def spectralcore_array_adapter(array: Any) -> Any:
    """Return an adapter if this plugin claims ``array``'s type, else None.

    An adapter has ``apply(op, xp, A, config, eig)`` returning the op's output, made
    differentiable in the array's framework, and ``inspectable(A)``: A's values, readable, or
    None while A is traced. It may have ``numerics()`` (the context its computations run in)
    and ``checks_in_forward = True``, with which ``apply`` also takes ``check=``, the domain
    check its :func:`~spectralcore.dispatch.run_forward` runs on the forward's eigenvalues
    (:func:`~spectralcore.dispatch.apply`). The first plugin that claims the array wins; the
    generic Array-API adapter is tried last.
    """


KIND_HOOKS = {
    "eigh-forward": "spectralcore_eigh_forward",
    "eigh-backward": "spectralcore_eigh_backward",
    "sqrtm-forward": "spectralcore_sqrtm_forward",
    "sqrtm-backward": "spectralcore_sqrtm_backward",
}
