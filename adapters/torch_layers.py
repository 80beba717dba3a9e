"""PyTorch ``nn.Module``s of the layers in :mod:`spectralcore.layers`.

Each module holds its configuration and, for the normalisation layers, its running
statistics as buffers (so ``state_dict``/``load_state_dict``, ``.to(device, dtype)`` and
``train()``/``eval()`` behave as for ``nn.BatchNorm``); its ``forward`` calls the
backend-neutral function, whose ops run through spectralcore's ``torch.autograd.Function``.

* :class:`ZCAWhitening` (alias :class:`DecorrelatedBatchNorm`) — TPAMI 2021 Alg. 2.
* :class:`PCADenoising` — NeurIPS 2019 §3.2.
* :class:`CovariancePooling` — MPN-COV / iSQRT-COV (ICCV 2021).
* :class:`WCT` — whitening and colouring transform (TPAMI 2021 §5.3.1).

Every module's ridge ``eps`` is relative to the scale of the covariance it is added to,
ε trace(cov)/n (``relative=True``, default; ``relative=False``: the absolute ε), so a layer's
output does not depend on the units of its input (:func:`spectralcore.layers._groups.ridge`).
Every module has ``configure(forward=…, backward=…, **options)`` to change its method in
place (what :meth:`spectralcore.layers.HybridSchedule.apply` calls on the square-root-based
ones). Importing this module
imports torch; ``import spectralcore`` alone does not.
"""

from __future__ import annotations

import abc
from typing import Any

import torch
from array_api_compat import array_namespace
from torch import nn

from spectralcore import layers as F
from spectralcore.layers._groups import moments, to_groups
from spectralcore.ops.eigh import eigh
from spectralcore.ops.spectral import matrix_power
from spectralcore.ops.sqrtm import invsqrtm, sqrtm


def _method_repr(method: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in method.items())


class _Configurable(nn.Module, abc.ABC):
    """Holds the method keyword arguments (``self.method``) and validates them when set."""

    method: dict[str, Any]
    supports_hybrid: bool = True  # its method is a square-root method (HybridSchedule.apply reconfigures it)

    @abc.abstractmethod
    def _validate(self, method: dict[str, Any]) -> None:
        """Raise if ``method`` is not a valid configuration of this layer."""

    def configure(self, **method: Any) -> _Configurable:
        """Replace the method (``forward``, ``backward``, ``via`` where it applies, options);
        keys not given keep their defaults, not their previous values. Invalid names or
        options raise here, naming what is available."""
        method = {**self._default_method(), **method}
        self._validate(method)
        self.method = method
        return self

    def _default_method(self) -> dict[str, Any]:
        return {"forward": "eigh", "backward": "exact"}


class _GroupNorm(_Configurable):
    """Shared parts of the two normalisation layers: groups, affine parameters, buffers."""

    def __init__(
        self,
        num_features: int,
        groups: int | None,
        group_size: int | None,
        eps: float,
        relative: bool,
        momentum: float,
        affine: bool,
        check: bool,
        device: Any,
        dtype: Any,
    ) -> None:
        super().__init__()
        self.num_features = num_features
        self.groups, self.group_size = F.group_shape(num_features, groups, group_size)
        self.eps, self.relative, self.momentum, self.affine, self.check = eps, relative, momentum, affine, check
        factory = {"device": device, "dtype": dtype}
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features, **factory))
            self.bias = nn.Parameter(torch.zeros(num_features, **factory))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long, device=device))
        self.last_covariance: torch.Tensor | None = None

    def _store(self, names: tuple[str, ...], new_state: tuple) -> None:
        with torch.no_grad():
            for name, value in zip(names, new_state):
                getattr(self, name).copy_(value.detach())
            self.num_batches_tracked.add_(1)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, groups={self.groups}, group_size={self.group_size}, eps={self.eps}, "
            f"relative={self.relative}, momentum={self.momentum}, affine={self.affine}, {_method_repr(self.method)}"
        )


class ZCAWhitening(_GroupNorm):
    """ZCA whitening / decorrelated batch norm of (N, C, *spatial) inputs per channel group
    (:func:`spectralcore.layers.zca_whitening`; TPAMI 2021 Alg. 2).

    Buffers ``running_mean`` (G, d), ``running_covariance`` and ``running_whitening``
    (G, d, d); parameters ``weight``, ``bias`` (C,) when ``affine``. ``via``, ``forward``,
    ``backward`` and options choose the method, e.g.
    ``ZCAWhitening(64, via="eigh", backward="taylor", degree=9)`` (SVD-Taylor) or
    ``ZCAWhitening(64, forward="mpa", backward="lyapunov")`` (ICLR 2022). With
    ``record_covariance=True``, ``last_covariance`` holds the last training batch's
    covariance (G, d, d), detached, for :meth:`~spectralcore.layers.HybridSchedule.observe`.

    >>> import torch
    >>> from spectralcore.adapters.torch_layers import ZCAWhitening
    >>> layer = ZCAWhitening(16, groups=4, backward="taylor")
    >>> layer(torch.randn(32, 16, 8, 8)).shape
    torch.Size([32, 16, 8, 8])
    """

    _BUFFERS = ("running_mean", "running_covariance", "running_whitening")

    def __init__(
        self,
        num_features: int,
        *,
        groups: int | None = None,
        group_size: int | None = None,
        eps: float = 1e-5,
        relative: bool = True,
        momentum: float = 0.1,
        affine: bool = True,
        eval_from: str = "covariance",
        via: str = "invsqrtm",
        forward: Any = "eigh",
        backward: Any = "exact",
        check: bool = True,
        record_covariance: bool = False,
        device: Any = None,
        dtype: Any = None,
        **options: Any,
    ) -> None:
        super().__init__(num_features, groups, group_size, eps, relative, momentum, affine, check, device, dtype)
        self.eval_from, self.record_covariance = eval_from, record_covariance
        state = F.zca_state(num_features, groups=self.groups, like=torch.empty(0, device=device, dtype=dtype))
        for name, value in zip(self._BUFFERS, state):
            self.register_buffer(name, value.clone())
        self.configure(via=via, forward=forward, backward=backward, **options)

    def _default_method(self) -> dict[str, Any]:
        return {"via": "invsqrtm", "forward": "eigh", "backward": "exact"}

    def _validate(self, method: dict[str, Any]) -> None:
        method = dict(method)
        F.check_method(method.pop("via"), method.pop("forward"), method.pop("backward"), method)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state = F.ZCAState(*(getattr(self, name) for name in self._BUFFERS))
        y, new_state = F.zca_whitening(
            x,
            state,
            train=self.training,
            weight=self.weight,
            bias=self.bias,
            eps=self.eps,
            relative=self.relative,
            momentum=self.momentum,
            eval_from=self.eval_from,
            check=self.check,
            **self.method,
        )
        if self.training:
            self._store(self._BUFFERS, new_state)
            if self.record_covariance:
                with torch.no_grad():
                    xp = array_namespace(x)
                    self.last_covariance = moments(xp, to_groups(xp, x.detach(), self.groups, self.group_size))[2]
        return y


DecorrelatedBatchNorm = ZCAWhitening


class PCADenoising(_GroupNorm):
    """PCA denoising of (N, C, *spatial) inputs per channel group
    (:func:`spectralcore.layers.pca_denoising`; NeurIPS 2019 §3.2): keep the top ``k``
    eigenvectors (or the fewest holding ``preserve`` of the variance), found by power
    iteration with deflation (``forward``/``backward="power-iteration"`` by default).

    Buffers ``running_mean``, ``running_variance`` (G, d) and ``running_projector`` (G, d, d).
    """

    _BUFFERS = ("running_mean", "running_variance", "running_projector")
    supports_hybrid = False  # an eigh forward is needed: Newton–Schulz does not apply

    def __init__(
        self,
        num_features: int,
        *,
        k: int | None = None,
        preserve: float | None = 0.99,
        groups: int | None = None,
        group_size: int | None = None,
        eps: float = 1e-5,
        relative: bool = True,
        momentum: float = 0.1,
        affine: bool = True,
        forward: Any = "power-iteration",
        backward: Any = "power-iteration",
        check: bool = True,
        device: Any = None,
        dtype: Any = None,
        **options: Any,
    ) -> None:
        super().__init__(num_features, groups, group_size, eps, relative, momentum, affine, check, device, dtype)
        self.k, self.preserve = k, preserve
        state = F.pca_state(num_features, groups=self.groups, like=torch.empty(0, device=device, dtype=dtype))
        for name, value in zip(self._BUFFERS, state):
            self.register_buffer(name, value.clone())
        self.configure(forward=forward, backward=backward, **options)

    def _default_method(self) -> dict[str, Any]:
        return {"forward": "power-iteration", "backward": "power-iteration"}

    def _validate(self, method: dict[str, Any]) -> None:
        eigh.configure(None, **method)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state = F.PCAState(*(getattr(self, name) for name in self._BUFFERS))
        y, new_state = F.pca_denoising(
            x,
            state,
            train=self.training,
            k=self.k,
            preserve=self.preserve,
            weight=self.weight,
            bias=self.bias,
            eps=self.eps,
            relative=self.relative,
            momentum=self.momentum,
            check=self.check,
            **self.method,
        )
        if self.training:
            self._store(self._BUFFERS, new_state)
        return y

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, k={self.k}, preserve={self.preserve}"


class CovariancePooling(_Configurable):
    """Global covariance pooling (N, C, *spatial) → (N, C, C), or (N, C(C+1)/2) with ``triu``:
    Q = (P + εI)^power (:func:`spectralcore.layers.covariance_pooling`). iSQRT-COV is
    ``CovariancePooling(forward="newton-schulz", backward="newton-schulz")``, SVD-Padé
    ``CovariancePooling(backward="pade")``. No parameters, no state. With
    ``record_covariance=True``, ``last_covariance`` holds the last training batch's P
    (detached) for :meth:`~spectralcore.layers.HybridSchedule.observe`.
    """

    def __init__(
        self,
        *,
        power: float = 0.5,
        eps: float = 1e-5,
        relative: bool = True,
        triu: bool = False,
        forward: Any = "eigh",
        backward: Any = "exact",
        check: bool = True,
        record_covariance: bool = False,
        **options: Any,
    ) -> None:
        super().__init__()
        self.power, self.eps, self.relative, self.triu, self.check = power, eps, relative, triu, check
        self.record_covariance = record_covariance
        self.last_covariance: torch.Tensor | None = None
        self.configure(forward=forward, backward=backward, **options)

    def _validate(self, method: dict[str, Any]) -> None:
        if self.power == 0.5:
            sqrtm.configure(None, **method)
        elif self.power != 1:
            matrix_power.configure(None, self.power, **method)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.record_covariance:
            with torch.no_grad():
                self.last_covariance = F.covariance(x.detach())
        return F.covariance_pooling(
            x, power=self.power, eps=self.eps, relative=self.relative, triu=self.triu, check=self.check, **self.method
        )

    def extra_repr(self) -> str:
        return (
            f"power={self.power}, eps={self.eps}, relative={self.relative}, triu={self.triu}, "
            f"{_method_repr(self.method)}"
        )


class WCT(_Configurable):
    """Whitening and colouring transform: ``wct(content, style)`` maps content features
    (..., C, M_A) to the mean and covariance of style features (..., C, M_B), blended with
    ``alpha`` (:func:`spectralcore.layers.wct`; TPAMI 2021 eqs. 30–33). No parameters."""

    def __init__(
        self,
        *,
        alpha: float = 1.0,
        eps: float = 1e-5,
        relative: bool = True,
        forward: Any = "eigh",
        backward: Any = "exact",
        check: bool = True,
        **options: Any,
    ) -> None:
        super().__init__()
        self.alpha, self.eps, self.relative, self.check = alpha, eps, relative, check
        self.configure(forward=forward, backward=backward, **options)

    def _validate(self, method: dict[str, Any]) -> None:
        invsqrtm.configure(None, **method)

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return F.wct(
            content, style, alpha=self.alpha, eps=self.eps, relative=self.relative, check=self.check, **self.method
        )

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, eps={self.eps}, relative={self.relative}, {_method_repr(self.method)}"


__all__ = ["CovariancePooling", "DecorrelatedBatchNorm", "PCADenoising", "WCT", "ZCAWhitening"]
