"""Exact (rational) Taylor and Padé coefficients for the series the methods approximate.

Computed once per option set with :class:`fractions.Fraction`, so degenerate Padé systems
are detected exactly instead of being solved in floating point.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache

from .trace_constants import trace_constant


@cache
def binomial_series(alpha: Fraction, degree: int) -> tuple[Fraction, ...]:
    """Coefficients a_k of (1 − z)^α = Σ_k a_k z^k, k = 0..degree: a_k = a_{k−1} (k − 1 − α) / k.

    α = 1/2 gives MTP's square root (ICLR 2022 eq. 8), α = −1/2 its inverse, α = −1 the
    geometric series 1/(1 − z) of the Taylor and Padé eigh backwards.
    """
    coeffs = [Fraction(1)]
    for k in range(1, degree + 1):
        coeffs.append(coeffs[-1] * (k - 1 - alpha) / k)
    return tuple(coeffs)


def _solve(matrix: list[list[Fraction]], rhs: list[Fraction]) -> list[Fraction] | None:
    """Gaussian elimination in exact arithmetic; None when the matrix is singular."""
    n = len(rhs)
    rows = [row[:] + [b] for row, b in zip(matrix, rhs)]
    for col in range(n):
        pivot = next((r for r in range(col, n) if rows[r][col] != 0), None)
        if pivot is None:
            return None
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(n):
            if r != col and rows[r][col] != 0:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col])]
    return [rows[i][n] / rows[i][i] for i in range(n)]


@cache
def pade(series: tuple[Fraction, ...], m: int, n: int) -> tuple[tuple[Fraction, ...], tuple[Fraction, ...]]:
    """The [m/n] Padé approximant P/Q of a power series (ICCV 2021 eqs. 17–19), Q(0) = 1.

    Solves Σ_{j=0..n} q_j c_{k−j} = 0 for k = m+1..m+n, then p_k = Σ_j q_j c_{k−j}. When that
    system is singular the approximant lies in a block of the Padé table and equals a
    lower-order one: the denominator degree is reduced until the system is regular, and the
    result must still match the series through degree m+n. For the geometric series
    1/(1 − z) every [m/n] with n ≥ 1 is 1/(1 − z) itself: p = (1,), q = (1, −1).
    Returns (p, q) with trailing zero coefficients dropped.
    """
    if len(series) < m + n + 1:
        raise ValueError(f"pade needs {m + n + 1} series coefficients for [{m}/{n}], got {len(series)}")
    c = lambda i: series[i] if i >= 0 else Fraction(0)  # noqa: E731
    q_tail: list[Fraction] = []
    for nn in range(n, 0, -1):
        solved = _solve(
            [[c(m + i - j) for j in range(1, nn + 1)] for i in range(1, nn + 1)], [-c(m + i) for i in range(1, nn + 1)]
        )
        if solved is not None:
            q_tail = solved
            break
    q = [Fraction(1)] + q_tail
    p = [sum((q[j] * c(k - j) for j in range(min(k, len(q) - 1) + 1)), Fraction(0)) for k in range(m + n + 1)]
    if any(p[m + 1 :]):
        raise ValueError(f"the [{m}/{n}] Padé approximant of this series does not exist")
    p = p[: m + 1]
    while len(p) > 1 and p[-1] == 0:
        p.pop()
    while len(q) > 1 and q[-1] == 0:
        q.pop()
    return tuple(p), tuple(q)


@trace_constant
def binomial_floats(alpha: tuple[int, int], degree: int) -> tuple[float, ...]:
    """:func:`binomial_series` of α = alpha[0]/alpha[1] as floats (what the methods evaluate)."""
    return tuple(float(c) for c in binomial_series(Fraction(*alpha), degree))


@trace_constant
def pade_floats(alpha: tuple[int, int], m: int, n: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(p, q) of the [m/n] :func:`pade` approximant of (1 − z)^α, α = alpha[0]/alpha[1], as floats."""
    p, q = pade(binomial_series(Fraction(*alpha), m + n), m, n)
    return tuple(float(c) for c in p), tuple(float(c) for c in q)
