"""The checks. Each takes (subject, backend, dtype) and yields one :class:`Result` per input.

Every method is checked for correctness on a well-separated input, whatever it declares: the
gradient's direction and scale always (no opt-out), and agreement within the accuracy it
claims (``Method.claimed_accuracy``: its declared ``accuracy``) unless it opts out with a
reason; a method declaring neither fails agreement, told what was measured (:func:`claimed`).
The claims decide the rest (``applies``): boundedness only for methods claiming ``bounded``
(in units of A: :func:`units_ratio`), jax.jit only for ``traceable``, second order
(:mod:`.second_order`) only for ``exact``; scale and rotation equivariance
(:mod:`.equivariance`) for every method. The claim checks run in every op that uses the method
(``Subject.ops``); the structural ones in its own op (``Subject.primary_ops``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from typing import cast

import numpy as np

from spectralcore.method import EighBackward

from . import reference
from .backends import Backend
from .cases import SEPARATED, Cotangent, batch, degenerate, direction, spectral_scale
from .equivariance import rotation_equivariance, scale_equivariance
from .result import Result, outcome, rel
from .second_order import second_order
from .subject import Subject

BOUND = 1e12  # "bounded": ‖gA‖_F s^{1−p} ≤ BOUND · ‖cotangent‖_F on every degenerate input (units_ratio)
ROUNDING = {"float32": 1e-5, "float64": 1e-12}  # for properties exact up to rounding
CROSS = {"float32": 1e-4, "float64": 1e-10}  # same numbers on every backend
DIRECTION = 0.5  # 1 − cos(gA, exact gA) on the well-separated input: cos ≥ 0.5, for every method
SCALE = math.log(1.8)  # |ln r|, r = ‖gA‖ / ‖exact gA‖: within a factor 1.8, for every method


def claimed(name: str, s: Subject, b: Backend, dtype: str, case: str, measured: float, allowed: float) -> Result:
    """:func:`outcome` of a check against the method's accuracy claim; for a method that states
    none (``Subject.unclaimed``) it fails, and its input says what was measured and what to declare."""
    if s.unclaimed:
        case = f"{case}; no accuracy claimed: declare accuracy = {suggested(measured)} or an accuracy_opt_out"
    return outcome(name, s, b, dtype, case, measured, allowed)


def suggested(measured: float) -> str:
    """The ``accuracy`` to declare for a measured worst error: twice it, rounded up to one digit."""
    if not math.isfinite(measured):
        return "(none: the error is not finite)"
    if measured <= 0:
        return "1e-15"
    exponent = math.floor(math.log10(2 * measured))
    return f"{math.ceil(2 * measured / 10**exponent)}e{exponent:+03d}"


def agreement(s: Subject, b: Backend, dtype: str) -> Iterator[Result]:
    """gA (and a forward's outputs) against the exact float64 result, in every op using the method."""
    cot = Cotangent.for_shape(SEPARATED.matrix.shape)
    for op in s.ops:
        allowed = s.tolerance(dtype, op)
        if allowed is None:
            continue
        got, ref = s.run(op, b, SEPARATED.matrix, dtype, cot), s.reference(op, SEPARATED.matrix, cot)
        yield claimed("agreement", s, b, dtype, f"{op.label} gA, {SEPARATED.name}", rel(got.gA, ref.gA), allowed)
        if not s.is_backward and op.primary:
            for key in ref.outputs:
                yield claimed(
                    "agreement",
                    s,
                    b,
                    dtype,
                    f"{key}, {SEPARATED.name}",
                    rel(got.outputs[key], ref.outputs[key]),
                    allowed,
                )


def direction_and_scale(s: Subject, b: Backend, dtype: str) -> Iterator[Result]:
    """gA points the exact gradient's way (cos ≥ 0.5) with its size (within a factor 1.8), in
    every op: a zero, sign-flipped or doubled gradient fails whatever the method declares."""
    cot = Cotangent.for_shape(SEPARATED.matrix.shape)
    for op in s.ops:
        g = s.run(op, b, SEPARATED.matrix, dtype, cot).gA.ravel()
        r = s.reference(op, SEPARATED.matrix, cot).gA.ravel()
        finite = bool(np.all(np.isfinite(g)))
        g_norm, r_norm = (float(np.linalg.norm(g)), float(np.linalg.norm(r)))
        cosine = float(g @ r) / (g_norm * r_norm) if finite and g_norm > 0 else 0.0
        ratio = g_norm / r_norm if finite else float("inf")
        yield outcome("gradient direction", s, b, dtype, f"{op.label}, {SEPARATED.name}", 1 - cosine, DIRECTION)
        yield outcome(
            "gradient scale",
            s,
            b,
            dtype,
            f"{op.label}, {SEPARATED.name}",
            abs(math.log(ratio)) if 0 < ratio < float("inf") else float("inf"),
            SCALE,
        )


def units_ratio(gA: np.ndarray, G: np.ndarray, scale: np.ndarray, degree: float) -> np.ndarray:
    """‖gA‖ s^{1−p} / ‖G‖ per matrix (inf where gA is not finite): the gradient of an op of
    degree p in units of A, scale-free for the suite's cotangents (Cotangent.in_units)."""
    finite = np.all(np.isfinite(gA), axis=(-2, -1))
    with np.errstate(over="ignore", invalid="ignore"):
        ratio = np.linalg.norm(gA, axis=(-2, -1)) * scale ** (1 - degree) / np.linalg.norm(G, axis=(-2, -1))
    return np.where(finite, ratio, np.inf)


def bounded(s: Subject, b: Backend, dtype: str) -> Iterator[Result]:
    """Finite gA with ‖gA‖ s^{1−p} ≤ BOUND ‖G‖ (:func:`units_ratio`; s = max|λ| of the input, p
    the op's degree: eigh 0 with the eigenvalue cotangent gw/s, sqrtm ½, invsqrtm −½) on
    repeated, near-repeated, zero-eigenvalue and rank-deficient inputs, in every op using the
    method (singular ones where the op is defined)."""
    for op in s.ops:
        for case in degenerate(op.name):
            scale = spectral_scale(case.matrix)
            cot = Cotangent.for_shape(case.matrix.shape).in_units(scale)
            gA = s.run(op, b, case.matrix, dtype, cot).gA
            ratio = float(units_ratio(gA, cot.G, scale, op.degree))
            yield outcome("bounded", s, b, dtype, f"{op.label}, {case.name}", ratio, BOUND)


def finite_outputs(s: Subject, b: Backend, dtype: str) -> Iterator[Result]:
    """A forward's outputs are finite on the degenerate inputs of its op (ties, and the singular
    ones where the op is defined), measured as the number of non-finite entries."""
    for op in s.primary_ops:
        for case in degenerate(op.name):
            cot = Cotangent.for_shape(case.matrix.shape)
            outputs = s.run(op, b, case.matrix, dtype, cot).outputs
            bad = sum(int(np.sum(~np.isfinite(v))) for v in outputs.values())
            yield outcome("finite outputs", s, b, dtype, f"{op.label}, {case.name}", bad, 0)


def symmetric(s: Subject, b: Backend, dtype: str) -> Iterator[Result]:
    """gA = gAᵀ (the gradient with respect to a symmetric matrix)."""
    cot = Cotangent.for_shape(SEPARATED.matrix.shape)
    for op in s.primary_ops:
        g = s.run(op, b, SEPARATED.matrix, dtype, cot).gA
        yield outcome("symmetric", s, b, dtype, op.name, rel(g.T, g), ROUNDING[dtype])


def sign_invariance(s: Subject, b: Backend, dtype: str) -> Iterator[Result]:
    """Flipping eigenvector signs (and the cotangent's with them) leaves gA unchanged."""
    from array_api_compat import array_namespace

    import spectralcore as sc

    A = SEPARATED.matrix
    cot = Cotangent.for_shape(A.shape)
    with b.precision(dtype):
        x = b.asarray(A.astype(dtype))
        xp = array_namespace(x)
        w, V = sc.eigh(x)
        V_np = b.to_numpy(V).astype(np.float64)
        grads = []
        for signs in (np.ones(A.shape[-1]), np.array([1.0, -1.0, 1.0, -1.0, -1.0])):
            gw, gV = cot.eigh(V_np * signs)
            g = cast(EighBackward, s.method).vjp(
                xp, x, w, V * b.asarray(signs.astype(dtype)), b.asarray(gw.astype(dtype)), b.asarray(gV.astype(dtype))
            )
            grads.append(b.to_numpy(g).astype(np.float64))
    yield outcome("sign invariance", s, b, dtype, SEPARATED.name, rel(grads[1], grads[0]), ROUNDING[dtype])


def zero_cotangent(s: Subject, b: Backend, dtype: str) -> Iterator[Result]:
    """A zero cotangent gives exactly zero gA."""
    cot = Cotangent.for_shape(SEPARATED.matrix.shape).scaled(0.0)
    for op in s.primary_ops:
        g = s.run(op, b, SEPARATED.matrix, dtype, cot).gA
        yield outcome("zero cotangent", s, b, dtype, op.name, float(np.max(np.abs(g))), 0.0)


def linearity(s: Subject, b: Backend, dtype: str) -> Iterator[Result]:
    """gA(α c1 + β c2) = α gA(c1) + β gA(c2)."""
    shape = SEPARATED.matrix.shape
    c1, c2 = Cotangent.for_shape(shape, 11), Cotangent.for_shape(shape, 12)
    mixed = Cotangent(2 * c1.G - 3 * c2.G, 2 * c1.gw - 3 * c2.gw, c1.weights)
    for op in s.primary_ops:
        runs = [s.run(op, b, SEPARATED.matrix, dtype, c) for c in (c1, c2, mixed)]  # eigh: gV = 2GVc is linear in G
        yield outcome(
            "linearity", s, b, dtype, op.name, rel(runs[2].gA, 2 * runs[0].gA - 3 * runs[1].gA), 10 * ROUNDING[dtype]
        )


def batch_equals_loop(s: Subject, b: Backend, dtype: str) -> Iterator[Result]:
    """A (3, n, n) batch gives each matrix's own outputs and gA."""
    A = batch(SEPARATED)
    cot = Cotangent.for_shape(A.shape)
    for op in s.primary_ops:
        whole = s.run(op, b, A, dtype, cot)
        worst = 0.0
        for k in range(A.shape[0]):
            single = s.run(op, b, A[k], dtype, Cotangent(cot.G[k], cot.gw[k], cot.weights))
            worst = max(
                worst,
                rel(whole.gA[k], single.gA),
                *(rel(whole.outputs[key][k], single.outputs[key]) for key in single.outputs),
            )
        yield outcome("batch equals loop", s, b, dtype, op.name, worst, 10 * ROUNDING[dtype])


def preserved(s: Subject, b: Backend, dtype: str) -> Iterator[Result]:
    """Outputs and gA keep the input's dtype, device and shape (measured: number of mismatches)."""
    A = batch(SEPARATED, 2)
    cot = Cotangent.for_shape(A.shape)
    for op in s.primary_ops:
        with b.precision(dtype):
            x = b.asarray(A.astype(dtype))
            run = s.run(op, b, A, dtype, cot)
            arrays = run.raw_outputs + [run.raw_gA]
            bad = sum(str(a.dtype).split(".")[-1] != dtype for a in arrays)
            bad += sum(b.device_of(a) != b.device_of(x) for a in arrays)
            bad += int(tuple(run.raw_gA.shape) != A.shape)
        yield outcome("dtype, device, shape", s, b, dtype, op.name, bad, 0)


def cross_backend(s: Subject, b: Backend, dtype: str) -> Iterator[Result]:
    """The same numbers as NumPy (the same method, input and cotangent)."""
    from .backends import available

    numpy_backend = next(available(["numpy"]))
    cot = Cotangent.for_shape(SEPARATED.matrix.shape)
    for op in s.primary_ops:
        mine, ref = s.run(op, b, SEPARATED.matrix, dtype, cot), s.run(op, numpy_backend, SEPARATED.matrix, dtype, cot)
        worst = max([rel(mine.gA, ref.gA)] + [rel(mine.outputs[k], ref.outputs[k]) for k in ref.outputs])
        yield outcome("same numbers as numpy", s, b, dtype, op.name, worst, CROSS[dtype])


def jit(s: Subject, b: Backend, dtype: str) -> Iterator[Result]:
    """Under jax.jit the outputs and gA equal the eager ones."""
    import jax

    A = SEPARATED.matrix
    cot = Cotangent.for_shape(A.shape)
    for op in s.ops:
        with b.precision(dtype):
            x = b.asarray(A.astype(dtype))
            loss = s.loss(op, b, dtype, cot)
            eager = np.asarray(jax.grad(loss)(x), dtype=np.float64)
            traced = np.asarray(jax.jit(jax.grad(loss))(x), dtype=np.float64)
        yield outcome("jax.jit", s, b, dtype, op.label, rel(traced, eager), 100 * ROUNDING[dtype])


def transpose(s: Subject, b: Backend, dtype: str) -> Iterator[Result]:
    """Forward mode is the transpose of reverse mode: ⟨JVP(dA), c⟩ = ⟨dA, VJP(c)⟩ for a random
    symmetric dA and cotangent c, in every op with a JVP; measured relative to ‖dA‖ ‖VJP(c)‖."""
    A = SEPARATED.matrix
    dA, cot = direction(A.shape), Cotangent.for_shape(A.shape)
    for op in s.ops:
        if not s.has_jvp(op):
            continue
        tangents, cotangent, gA = s.tangents(op, b, A, dtype, dA, cot)
        outputs = ("eigenvalues", "eigenvectors") if op.name == "eigh" else (op.name,)
        forward = sum(float(np.sum(tangents[key] * c)) for key, c in zip(outputs, cotangent))
        reverse = float(np.sum(dA * gA))
        scale = np.linalg.norm(dA) * np.linalg.norm(gA) + sum(
            np.linalg.norm(tangents[key]) * np.linalg.norm(c) for key, c in zip(outputs, cotangent)
        )
        yield outcome("jvp transposes vjp", s, b, dtype, op.label, abs(forward - reverse) / scale, ROUNDING[dtype])


def _reference_outputs(op_name: str, A: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """The exact outputs in float64 (eigh: eigenvalues and the weighted projector V C Vᵀ)."""
    if op_name == "eigh":
        w, V = np.linalg.eigh(A)
        return {"eigenvalues": w, "weighted projector": (V * weights) @ np.swapaxes(V, -1, -2)}
    return {op_name: reference.power(A, 0.5 if op_name == "sqrtm" else -0.5)}


def jvp_finite_differences(s: Subject, b: Backend, dtype: str) -> Iterator[Result]:
    """An exact method's JVP against central differences of the float64 reference outputs
    (Richardson-extrapolated, O(h⁴)), within the accuracy the method claims."""
    A = SEPARATED.matrix
    dA, cot = direction(A.shape), Cotangent.for_shape(A.shape)
    h = 1e-3

    def central(step: float) -> dict[str, np.ndarray]:
        up = _reference_outputs(op.name, A + step * dA, cot.weights)
        down = _reference_outputs(op.name, A - step * dA, cot.weights)
        return {k: (up[k] - down[k]) / (2 * step) for k in up}

    for op in s.ops:
        allowed = s.tolerance(dtype, op)
        if not s.has_jvp(op) or allowed is None:
            continue
        tangents = s.tangents(op, b, A, dtype, dA, cot)[0]
        coarse, fine = central(h), central(h / 2)
        for key in fine:
            expected = (4 * fine[key] - coarse[key]) / 3
            yield claimed(
                "jvp against differences", s, b, dtype, f"{op.label} d{key}", rel(tangents[key], expected), allowed
            )


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[Subject, Backend, str], Iterator[Result]]
    applies: Callable[[Subject, Backend], bool]


def _claims(s: Subject) -> frozenset[str]:
    return type(s.method).claims


CLAIM_CHECKS = ("agreement", "jvp against differences")  # the checks against the accuracy claim

CHECKS = [
    Check("agreement", agreement, lambda s, b: s.tolerance("float64") is not None),
    Check("gradient direction and scale", direction_and_scale, lambda s, b: True),
    Check("bounded", bounded, lambda s, b: s.is_backward and "bounded" in _claims(s)),
    Check("finite outputs", finite_outputs, lambda s, b: not s.is_backward),
    Check("symmetric", symmetric, lambda s, b: s.is_backward),
    Check("sign invariance", sign_invariance, lambda s, b: s.kind == "eigh-backward"),
    Check("zero cotangent", zero_cotangent, lambda s, b: s.is_backward),
    Check("linearity", linearity, lambda s, b: s.is_backward),
    Check("batch equals loop", batch_equals_loop, lambda s, b: True),
    Check("dtype, device, shape", preserved, lambda s, b: True),
    Check("same numbers as numpy", cross_backend, lambda s, b: b.name != "numpy"),
    Check("jax.jit", jit, lambda s, b: b.name == "jax" and "traceable" in _claims(s)),
    Check("jvp transposes vjp", transpose, lambda s, b: s.method.has_jvp()),
    Check("jvp against differences", jvp_finite_differences, lambda s, b: s.method.has_jvp() and "exact" in _claims(s)),
    Check("scale equivariance", scale_equivariance, lambda s, b: True),
    Check("rotation equivariance", rotation_equivariance, lambda s, b: True),
    Check("second order", second_order, lambda s, b: "exact" in _claims(s)),
]
