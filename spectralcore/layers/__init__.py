"""The layers the papers use the ops for, as backend-neutral functions.

Written only against the Array API namespace of the input (``spectralcore._array.namespace``)
and the public ops (``sc.eigh``, ``sc.sqrtm``, ``sc.invsqrtm``, ``sc.matrix_power``), so each
runs on NumPy, CuPy, array-api-strict, torch and JAX, and is differentiable wherever the ops
are (torch autograd, JAX transformations). Stateful layers are pure: they take a state and
return ``(output, new_state)``.

* :func:`zca_whitening` — ZCA whitening / decorrelated batch norm (TPAMI 2021 Alg. 2,
  NeurIPS 2019 Alg. 1), state :class:`ZCAState` from :func:`zca_state`.
* :func:`pca_denoising` — PCA denoising (NeurIPS 2019 §3.2), state from :func:`pca_state`.
* :func:`covariance_pooling` — global covariance pooling (MPN-COV / iSQRT-COV, ICCV 2021).
* :func:`wct`, :func:`whiten`, :func:`colour` — whitening and colouring transform (TPAMI 2021 §5.3.1).
* :class:`HybridSchedule` — the hybrid training protocol of ICCV 2021 §3.4.

Framework wrappers: ``spectralcore.adapters.torch_layers`` (``nn.Module``s with buffers) and
``spectralcore.adapters.jax_layers`` (pure ``init``/``apply`` pairs with explicit state).
"""

from ._groups import group_shape
from .covariance_pooling import covariance, covariance_pooling, upper_triangle
from .hybrid import NEWTON_SCHULZ, SVD_PADE, HybridSchedule, condition_number
from .pca import PCAState, kept_mask, pca_denoising, pca_state
from .wct import colour, wct, whiten
from .zca import ZCAState, check_method, whitening_matrix, zca_state, zca_whitening

__all__ = [
    "NEWTON_SCHULZ",
    "SVD_PADE",
    "HybridSchedule",
    "PCAState",
    "ZCAState",
    "check_method",
    "colour",
    "condition_number",
    "covariance",
    "covariance_pooling",
    "group_shape",
    "kept_mask",
    "pca_denoising",
    "pca_state",
    "upper_triangle",
    "wct",
    "whiten",
    "whitening_matrix",
    "zca_state",
    "zca_whitening",
]
