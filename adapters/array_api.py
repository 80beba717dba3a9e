"""The fallback adapter: any Array-API array (NumPy, CuPy, array-api-strict, …) gets plain
output arrays; its gradient is the explicit ``sc.vjp``."""

from __future__ import annotations

from typing import Any

from array_api_compat import is_array_api_obj

from spectralcore.dispatch import run_forward
from spectralcore.hooks import hookimpl
from spectralcore.ops.base import Op


class ArrayAPIAdapter:
    """Runs the op's forward; no framework autodiff is involved."""

    def apply(self, op: Op, xp: Any, A: Any, config: Any, eig: tuple[Any, Any] | None = None) -> Any:
        return run_forward(op, xp, A, config, eig)[0]

    def inspectable(self, A: Any) -> Any:
        return A


ADAPTER = ArrayAPIAdapter()


@hookimpl(trylast=True)
def spectralcore_array_adapter(array: Any) -> ArrayAPIAdapter | None:
    return ADAPTER if is_array_api_obj(array) else None
