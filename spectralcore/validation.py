"""Input validation: every error names the argument, what was expected and what came."""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import is_numpy_array

from ._array import (
    Array,
    device,
    dtype_eps,
    largest_entry,
    largest_magnitude,
    namespace,
    rounding_floor,
    scale_matrix,
    torch_namespace,
)


class SpectralError(ValueError):
    """Invalid input to a spectralcore function."""


class AccuracyWarning(UserWarning):
    """An approximate forward's result is far from the exact one (its residual says so)."""


RESIDUAL_WARNING = 1e-3  # relative residual above which check=True warns


def _type_name(x: Any) -> str:
    return f"{type(x).__module__}.{type(x).__qualname__}"


def working_dtype(xp: Any, dtype: Any) -> Any:
    """The dtype a computation runs in: float32 and float64 as is, narrower floats in float32."""
    if dtype == xp.float64 or dtype == xp.float32:
        return dtype
    return xp.float32


def check_matrix(
    xp: Any, A: Array, *, name: str = "A", check_values: bool = True, symmetry_rtol: float | None = None
) -> None:
    """Check that ``A`` is a real, floating, square, finite, symmetric (..., n, n) array.

    The value checks (finiteness, symmetry) read the data, which synchronises with the
    device (once when A passes); ``check_values=False`` skips them. Symmetry holds when
    max|A − Aᵀ| ≤ rtol · max|A|, with rtol = √ε of A's dtype unless given.
    """
    if A.ndim < 2:
        raise SpectralError(
            f"`{name}` must have shape (..., n, n) with ndim >= 2, got ndim={A.ndim} (shape {tuple(A.shape)})"
        )
    if A.shape[-1] != A.shape[-2]:
        raise SpectralError(f"`{name}` must be square in its last two axes, got shape {tuple(A.shape)}")
    if not xp.isdtype(A.dtype, "real floating"):
        raise SpectralError(
            f"`{name}` must have a real floating dtype (float16, bfloat16, float32, float64), got {A.dtype}"
        )
    if A.shape[-1] == 0 or not check_values:
        return
    work = xp.astype(A, working_dtype(xp, A.dtype), copy=False)
    rtol = dtype_eps(xp, A.dtype) ** 0.5 if symmetry_rtol is None else symmetry_rtol
    top = largest_entry(xp, work)  # NaN or inf iff A has a non-finite entry
    # A − Aᵀ is antisymmetric, exactly (a − b = −(b − a) in floating point): its largest entry is max|A − Aᵀ|;
    # an inf in A makes it inf or NaN (∞ − a = ∞, ∞ − ∞ = NaN), so capping max|A| at the largest finite
    # number fails every non-finite A in the same comparison (NaN fails it too)
    skew = xp.max(work - work.mT)
    if bool(skew <= rtol * xp.minimum(top, xp.finfo(work.dtype).max)):  # the one host read when A passes
        return
    scale = float(top)
    if not math.isfinite(scale):
        bad = int(xp.sum(xp.astype(~xp.isfinite(A), xp.int32)))
        raise SpectralError(f"`{name}` must be finite, got {bad} non-finite entries (NaN or inf)")
    asym = float(skew)
    if asym > rtol * scale:
        raise SpectralError(
            f"`{name}` must be symmetric: expected max|A - A^T| <= {rtol:.3g} * max|A| = "
            f"{rtol * scale:.3g}, got {asym:.3g}; symmetrise it ((A + A^T) / 2) or pass "
            f"check=False to skip the value checks"
        )


def check_cotangent(
    xp: Any, A: Array, g: Array | None, expected_shape: tuple, *, name: str, role: str = "cotangent"
) -> Array | None:
    """A cotangent as an array of A's namespace ``xp``, checked against the shape of the output
    it belongs to (None means zero). A NumPy array is converted (JAX's transforms hand NumPy
    zeros around); anything else that is not an array of A's framework is an error."""
    if g is None:
        return None
    try:
        g_xp = namespace(g)
    except TypeError:
        g_xp = None
    if g_xp is not xp:
        if g_xp is None or not is_numpy_array(g):
            raise SpectralError(
                f"{role} `{name}` must be an array like A ({_type_name(A)}) or None, got {_type_name(g)}"
            )
        g = xp.asarray(g, device=device(A))
    if tuple(g.shape) != tuple(expected_shape):
        raise SpectralError(
            f"{role} `{name}` must have shape {tuple(expected_shape)} (the shape of "
            f"{'A' if role == 'tangent' else 'the output'}), got {tuple(g.shape)}"
        )
    return g


DOMAINS = {"psd": "positive semidefinite", "pd": "positive definite"}


def check_definite(xp: Any, A: Array, domain: str, *, what: str) -> None:
    """Check that A is positive semidefinite ("psd": λmin ≥ −δ, δ = √ε max|λ|, the rounding
    the forward's ``rounding_clip`` sets to 0, and a bound on the rounding of a PSD matrix:
    max|A| ≤ max|λ|) or definite ("pd": λmin > τ, τ = n ε max|λ|, the eigensolver's backward
    error ``rounding_floor``: an eigenvalue below it cannot be told from zero, so a matrix
    singular to working precision is singular whatever sign rounding gave its lowest eigenvalue).

    Both are per matrix. The fast test is a Cholesky factorisation of A + √ε d I (psd) or of
    A − n² ε d I (pd), d = max(max_i a_ii, 0), about n³/3 flops, a third of a matrix product,
    and one host read. d is read off the diagonal: d ≤ λmax ≤ max|λ|, and max|λ| ≤ tr A ≤ n d
    for a PSD A, so a factorisation that succeeds proves λmin ≥ −√ε d ≥ −δ (psd), or
    λmin > n² ε d ≥ n ε max|λ| (pd); where it fails, the eigenvalues decide, and the error
    names the lowest.
    """
    work = xp.astype(A, working_dtype(xp, A.dtype), copy=False)
    n, eps = work.shape[-1], dtype_eps(xp, work.dtype)
    top = xp.clip(xp.max(xp.linalg.diagonal(work), axis=-1), 0, None)  # per matrix, never the batch's
    shift = (eps**0.5 if domain == "psd" else -(n * n * eps)) * top
    eye = xp.eye(n, dtype=work.dtype, device=device(work))
    if not bool(xp.all(_factorises(xp, work + scale_matrix(shift) * eye))):
        check_spectrum(xp, xp.linalg.eigvalsh(work), domain, what=what)  # Cholesky's own rounding may fail


def check_spectrum(xp: Any, w: Array, domain: str, *, what: str) -> None:
    """:func:`check_definite`'s test on A's eigenvalues ``w`` (..., n), in A's working dtype:
    λmin ≥ −√ε max|λ| ("psd") or λmin > n ε max|λ| ("pd"), per matrix; one host read when A is
    inside, and no pass over A. An adapter whose forward runs on readable values calls it on the
    eigenvalues an exact eigendecomposition forward computed (``Op.keeps_eigenvalues``), which
    spares the Cholesky factorisation (on CPU it costs about a tenth of the op's forward and
    backward)."""
    if w.shape[-1] == 0:
        return
    eps = dtype_eps(xp, w.dtype)
    lowest = xp.min(w, axis=-1)
    if domain == "psd":
        floors = -(eps**0.5) * largest_magnitude(xp, w)
        bad = lowest < floors
    else:
        floors = rounding_floor(xp, w)
        bad = lowest <= floors
    if not bool(xp.any(bad)):
        return
    worst = int(xp.argmax(xp.astype(xp.reshape(bad, (-1,)), xp.int32)))
    lowest_bad, top, floor = (float(xp.reshape(x, (-1,))[worst]) for x in (lowest, xp.max(w, axis=-1), floors))
    bound = (
        f">= {floor:.3g} (-sqrt(eps) * max|eigenvalue|: above it, rounding of a semidefinite A)"
        if domain == "psd"
        else f"> {floor:.3g} (n * eps * max|eigenvalue|: below it A is singular to working precision)"
    )
    raise SpectralError(
        f"{what} needs a {DOMAINS[domain]} `A`: expected every eigenvalue {bound}, got "
        f"{lowest_bad:.3g} (largest {top:.3g}); "
        "pass check=False to skip this check (the result is then not a number or wrong where A is outside)"
    )


def _factorises(xp: Any, M: Array) -> Array:
    """Per matrix, shape (...): whether symmetric M has a Cholesky factor (every pivot > 0). On
    torch ``linalg.cholesky_ex``'s status, which neither raises nor needs a pass over the factor;
    elsewhere the factor's finiteness (NumPy and CuPy raise where JAX returns NaN: then every
    matrix counts as not factorised, and the caller's eigenvalues decide)."""
    torch = torch_namespace(xp)
    if torch is not None:
        return torch.linalg.cholesky_ex(M).info == 0
    try:
        return xp.all(xp.isfinite(xp.linalg.cholesky(M)), axis=(-2, -1))
    except Exception:  # noqa: BLE001 - NumPy, torch and CuPy raise where JAX returns NaN
        return xp.zeros(M.shape[:-2], dtype=xp.bool, device=device(M))


def as_eigendecomposition(eig: Any) -> tuple[Array, Array]:
    """``(w, V)`` from ``eig=``: an :class:`~spectralcore.EighResult` or any pair of arrays
    (``torch.linalg.eigh``'s result included)."""
    try:
        w, V = eig
    except (TypeError, ValueError):
        raise SpectralError(
            f"`eig` must be an eigendecomposition (w, V) of A, as sc.eigh(A) returns, got {_type_name(eig)}"
        ) from None
    return w, V


def check_eigendecomposition(xp: Any, A: Array, w: Array, V: Array) -> None:
    """Check that ``eig=(w, V)`` can be an eigendecomposition of ``A``: arrays of A's framework
    and dtype, w of shape (..., n) and V of A's shape."""
    for name, array, shape in (("eig[0] (eigenvalues)", w, A.shape[:-1]), ("eig[1] (eigenvectors)", V, A.shape)):
        try:
            same = namespace(array) is xp
        except TypeError:
            same = False
        if not same:
            raise SpectralError(f"`{name}` must be an array like A ({_type_name(A)}), got {_type_name(array)}")
        if tuple(array.shape) != tuple(shape) or array.dtype != A.dtype:
            raise SpectralError(
                f"`{name}` must have shape {tuple(shape)} and dtype {A.dtype} (of A's), "
                f"got shape {tuple(array.shape)} and dtype {array.dtype}"
            )


def check_decomposes(xp: Any, A: Array, w: Array, V: Array) -> None:
    """Check (on readable values, check=True) that ``eig=(w, V)`` is finite and decomposes ``A``:
    ‖A V − V diag(w)‖_F ≤ τ‖A‖_F and ‖VᵀV − I‖_F ≤ τ√n for every matrix, τ = 64 n ε (ε of A's
    dtype; a backward-stable eigh is within a few n ε)."""
    n = A.shape[-1]
    if n == 0:
        return
    A, w, V = (xp.astype(x, working_dtype(xp, x.dtype), copy=False) for x in (A, w, V))
    if not (bool(xp.all(xp.isfinite(w))) and bool(xp.all(xp.isfinite(V)))):
        raise SpectralError("`eig` must be finite, got NaN or inf in its eigenvalues or eigenvectors")
    tol = 64 * n * dtype_eps(xp, A.dtype)

    def frobenius(X: Array) -> Array:
        return xp.sqrt(xp.sum(X * X, axis=(-2, -1)))

    residual = float(xp.max(frobenius(A @ V - V * w[..., None, :]) / frobenius(A)))
    eye = xp.eye(n, dtype=A.dtype, device=device(A))
    orthogonality = float(xp.max(frobenius(V.mT @ V - eye))) / n**0.5
    if not (residual <= tol or math.isnan(residual)) or not orthogonality <= tol:  # NaN residual: A = 0
        raise SpectralError(
            f"`eig` must be an eigendecomposition of A: expected ||A V - V diag(w)|| / ||A|| <= {tol:.3g} and "
            f"||V^T V - I|| / sqrt(n) <= {tol:.3g}, got {residual:.3g} and {orthogonality:.3g}; compute it "
            "from this A with an exact eigh forward (sc.eigh(A)), or pass check=False to skip this check"
        )
