"""The hybrid training protocol of ICCV 2021 (§3.4): Newton–Schulz first, then an SVD-based method.

Early in training the covariance matrices are ill-conditioned (ICCV 2021 Table 1: mean
condition number 3.4e14 in epoch 1, 1.7e13 by epoch 21), where eigendecomposition
gradients are fragile and the Newton–Schulz iteration (iSQRT-COV) is robust. The paper
trains with Newton–Schulz until the last learning-rate decay, switches to the SVD
meta-layer for a few warm-up epochs, then decays the rate and finishes with SVD.

:class:`HybridSchedule` decides when to switch — at an epoch, or once the observed
covariances are well-conditioned enough, whichever comes first — and hands out the
method configuration to use (keyword arguments for the layers' ``forward``/``backward``
and options). The switch happens once and is never undone. The learning-rate schedule
stays the user's.

    schedule = HybridSchedule(switch_epoch=30)                      # or max_condition=1e6
    for epoch in range(epochs):
        if schedule.step(epoch):                                    # True at the first call and at the switch
            schedule.apply(model.modules())                         # torch: reconfigure the sqrtm-based layers
        for x, y in loader:
            ...
            schedule.observe(layer.last_covariance)                 # only for max_condition (record_covariance=True)

For the functional and JAX layers pass ``**schedule.method`` to ``apply`` (under ``jax.jit``
the method is static configuration: the switch compiles once more).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

from .._array import Array, namespace
from ..validation import SpectralError

NEWTON_SCHULZ: Mapping[str, Any] = {"forward": "newton-schulz", "backward": "newton-schulz"}
SVD_PADE: Mapping[str, Any] = {"forward": "eigh", "backward": "pade"}


def condition_number(A: Array) -> Array:
    """λmax/λmin of symmetric positive semidefinite A (..., n, n) (inf where λmin ≤ 0).

    Reads eigenvalues (``xp.linalg.eigvalsh``): an eager diagnostic, not for traced code.
    """
    xp = namespace(A)
    w = xp.linalg.eigvalsh(A)
    lo, hi = w[..., 0], w[..., -1]
    return xp.where(lo > 0, hi / xp.where(lo > 0, lo, xp.ones_like(lo)), xp.full_like(lo, math.inf))


@dataclasses.dataclass
class HybridSchedule:
    """Switch from ``first`` (default Newton–Schulz forward and backward, iSQRT-COV) to
    ``then`` (default eigh forward with the Padé backward, SVD-Padé) at ``switch_epoch``, or
    at the first epoch whose observed covariances had a geometric-mean condition number
    ≤ ``max_condition`` — whichever comes first (ICCV 2021 §3.4). One of the two is needed.
    """

    switch_epoch: int | None = None
    max_condition: float | None = None
    first: Mapping[str, Any] = dataclasses.field(default_factory=lambda: dict(NEWTON_SCHULZ))
    then: Mapping[str, Any] = dataclasses.field(default_factory=lambda: dict(SVD_PADE))
    switched_at: int | None = None
    _started: bool = dataclasses.field(default=False, init=False, repr=False)
    _log_conditions: list[float] = dataclasses.field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.switch_epoch is None and self.max_condition is None:
            raise SpectralError("HybridSchedule needs `switch_epoch` or `max_condition` (or both), got neither")
        if self.switch_epoch is not None and (not isinstance(self.switch_epoch, int) or self.switch_epoch < 0):
            raise SpectralError(f"`switch_epoch` must be an int >= 0, got {self.switch_epoch!r}")
        if self.max_condition is not None and not self.max_condition >= 1:
            raise SpectralError(f"`max_condition` must be >= 1, got {self.max_condition!r}")

    @property
    def switched(self) -> bool:
        return self.switched_at is not None

    @property
    def method(self) -> dict[str, Any]:
        """The method keyword arguments to use now."""
        return dict(self.then if self.switched else self.first)

    def observe(self, covariance: Array) -> None:
        """Record the condition numbers of a batch of covariances (eager; reads the values)."""
        if self.max_condition is None or self.switched or covariance is None:
            return
        xp = namespace(covariance)
        cond = condition_number(covariance)
        cond = xp.reshape(cond, (-1,))
        self._log_conditions.extend(math.log(c) if 0 < c < math.inf else math.inf for c in map(float, cond))

    @property
    def epoch_condition(self) -> float | None:
        """Geometric mean of the condition numbers observed since the last :meth:`step`."""
        if not self._log_conditions:
            return None
        return math.exp(sum(self._log_conditions) / len(self._log_conditions))

    def step(self, epoch: int) -> bool:
        """Call at the start of each epoch; returns True when the layers must be (re)configured
        with :attr:`method`: at the first call and on the epoch where the switch happens.

        Switches when ``epoch >= switch_epoch`` or when the condition numbers observed during
        the previous epoch are ≤ ``max_condition`` (geometric mean); then clears the record.
        """
        condition = self.epoch_condition
        self._log_conditions.clear()
        first_call, self._started = not self._started, True
        if self.switched:
            return first_call
        by_epoch = self.switch_epoch is not None and epoch >= self.switch_epoch
        by_condition = self.max_condition is not None and condition is not None and condition <= self.max_condition
        if by_epoch or by_condition:
            self.switched_at = epoch
            return True
        return first_call

    def apply(self, layers: Iterable[Any]) -> int:
        """Call ``configure(**self.method)`` on every layer whose matrix function is a square
        root (``supports_hybrid`` is true: the ZCA, covariance-pooling and WCT modules of
        :mod:`spectralcore.adapters.torch_layers`, not PCA denoising, which needs an eigh
        forward); e.g. ``schedule.apply(model.modules())``. Returns how many were configured."""
        count = 0
        for layer in layers:
            if getattr(layer, "supports_hybrid", False):
                layer.configure(**self.method)
                count += 1
        return count
