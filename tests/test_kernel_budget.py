"""Kernel budgets (issue 23), counted, not timed: torch eager on CPU, batch 2 of 8 × 8, forward +
backward, check=False. Each iterative method's matrix products are exactly what its ``products()``
states (``spectralcore methods`` prints them); one more iteration of a method may cost at most the
kernels and exactly the products its docstring states; a whole configuration at most its total
below (today's count: a change that adds a kernel must say why here)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import spectralcore as sc  # noqa: E402
from spectralcore.adapters.torch_timing import count_ops, step  # noqa: E402
from spectralcore.matrix_polynomial import products as polynomial_products  # noqa: E402
from spectralcore.plugins.lyapunov import Lyapunov  # noqa: E402
from spectralcore.plugins.mpa import MPA  # noqa: E402


def kernels_and_products(op: str, dtype=torch.float64, **options) -> tuple[int, int]:
    """(kernels, matrix products) of one step of ``sc.<op>``."""
    A = torch.linalg.qr(torch.randn(2, 8, 8, dtype=torch.float64))[0]
    A = ((A * torch.linspace(0.5, 2, 8, dtype=torch.float64)) @ A.mT).to(dtype)
    counts = count_ops(step(lambda X: getattr(sc, op)(X, check=False, **options), A, torch.ones_like(A)))
    return counts.launches, counts.matmuls


# (forward, backward, the option that counts steps, its value): one step more costs (kernels, products)
MARGINAL = {
    "lyapunov iteration": (("eigh", "lyapunov", "iterations", 8), (6, 6)),
    "newton-schulz iteration (forward + backward)": (("newton-schulz", "newton-schulz", "iterations", 5), (9, 9)),
}

# whole configurations: (op, options) -> (kernels, products) at most
TOTAL = {
    ("sqrtm", "mpa", "lyapunov"): (85, 55),
    ("invsqrtm", "mpa", "lyapunov"): (90, 58),
    ("sqrtm", "mtp", "lyapunov"): (84, 56),
    ("invsqrtm", "mtp", "lyapunov"): (89, 59),
    ("sqrtm", "newton-schulz", "newton-schulz"): (61, 40),
    ("invsqrtm", "newton-schulz", "newton-schulz"): (61, 40),
    ("sqrtm", "newton-schulz", "lyapunov"): (85, 63),
    ("sqrtm", "eigh", "exact"): (27, 5),
    ("invsqrtm", "eigh", "exact"): (29, 5),
    ("sqrtm", "eigh", "taylor"): (50, 5),
}


# (forward, backward, options): the backward reuses the forward's saved values (its scale or its
# steps), so the configuration's products are the two methods' stated ones
STATED = [
    ("mpa", "lyapunov", {}),
    ("mpa", "lyapunov", {"normalize": "frobenius", "iterations": 3}),
    ("mpa", "lyapunov", {"m": 3, "n": 7}),
    ("mpa", "lyapunov", {"solve": "newton", "dtype": torch.float32}),
    ("mtp", "lyapunov", {}),
    ("mtp", "lyapunov", {"degree": 1}),
    ("mtp", "lyapunov", {"degree": 4}),
    ("mtp", "lyapunov", {"degree": 20}),
    ("mtp", "lyapunov", {"degree": 100}),
    ("newton-schulz", "lyapunov", {}),
    ("newton-schulz", "newton-schulz", {}),
    ("newton-schulz", "newton-schulz", {"iterations": 1}),
    ("newton-schulz", "newton-schulz", {"iterations": 2, "normalize": "frobenius"}),
    ("newton-schulz", "newton-schulz", {"iterations": 9}),
]


@pytest.mark.parametrize("forward, backward, options", STATED, ids=[f"{f}+{b}-{o}" for f, b, o in STATED])
def test_stated_products_are_the_counted_ones(forward, backward, options):
    options = dict(options)
    dtype = options.pop("dtype", torch.float64)
    config = sc.sqrtm.configure(torch.eye(8, dtype=dtype), forward=forward, backward=backward, **options)
    stated = config.forward.products() + config.backward.products()
    counted = kernels_and_products("sqrtm", dtype=dtype, forward=forward, backward=backward, **options)[1]
    assert counted == stated, f"{forward} + {backward} {options}: {counted} matrix products, stated {stated}"


def test_the_scale_is_reused_only_under_the_same_rule():
    """Lyapunov after mpa takes √c of A when both normalise alike, else it computes S's own c (4
    squarings for "spectral")."""
    forward = MPA(normalize="frobenius")
    mixed = kernels_and_products("sqrtm", forward=forward, backward=Lyapunov())[1]
    assert mixed == forward.products() + Lyapunov().products() + 4
    same = kernels_and_products("sqrtm", forward=forward, backward=Lyapunov(normalize="frobenius"))[1]
    assert same == forward.products() + Lyapunov().products()


@pytest.mark.parametrize("name", MARGINAL)
def test_one_more_step_costs_its_stated_kernels(name):
    (forward, backward, option, value), (kernels, products) = MARGINAL[name]
    before = kernels_and_products("sqrtm", forward=forward, backward=backward, **{option: value})
    after = kernels_and_products("sqrtm", forward=forward, backward=backward, **{option: value + 1})
    assert after[1] - before[1] == products, f"{name}: {after[1] - before[1]} products, stated {products}"
    assert after[0] - before[0] <= kernels, f"{name}: {after[0] - before[0]} kernels, budget {kernels}"


@pytest.mark.parametrize("m, n", [(5, 5), (6, 6), (3, 7), (0, 4), (10, 10)])
def test_mpa_order_costs_its_polynomials_products_and_one_pass_per_term(m, n):
    """[m/n] against [1/1]: P and Q by Paterson–Stockmeyer (their stated products) and at most
    one element-wise pass per further term of P or Q."""
    base = kernels_and_products("sqrtm", forward="mpa", backward="exact", m=1, n=1)
    order = kernels_and_products("sqrtm", forward="mpa", backward="exact", m=m, n=n)
    extra = order[1] - base[1]
    assert extra == polynomial_products(m, n) - polynomial_products(1, 1)
    assert order[0] - base[0] <= extra + (m - 1) + (n - 1)


@pytest.mark.parametrize("config", TOTAL, ids=" ".join)
def test_configuration_within_its_kernel_budget(config):
    op, forward, backward = config
    kernels, products = kernels_and_products(op, forward=forward, backward=backward)
    budget, stated = TOTAL[config]
    assert products <= stated, f"{' '.join(config)}: {products} matrix products, stated {stated}"
    assert kernels <= budget, f"{' '.join(config)}: {kernels} kernels, budget {budget}"


# eigh backwards: kernels at most (3 matrix products each); issue 23's target is 30
EIGH = {"taylor": 30, "pade": 26, "clip": 25, "degenerate-safe": 25, "exact": 20, "lorentzian": 23}


@pytest.mark.parametrize("backward", EIGH)
def test_eigh_backward_within_its_kernel_budget(backward):
    kernels, products = kernels_and_products("eigh", backward=backward, solver="native")
    assert products == 3, f"eigh {backward}: {products} matrix products, stated 3"
    assert kernels <= EIGH[backward], f"eigh {backward}: {kernels} kernels, budget {EIGH[backward]}"


@pytest.mark.parametrize("op", ["sqrtm", "invsqrtm", "logm"])
def test_the_default_checks_cost_two_host_reads_and_no_factorisation(op):
    """check=True on the default (exact eigh) forward: finiteness and symmetry before it, the
    domain on its own eigenvalues after it, with no pass over A; no Cholesky factorisation
    (budget: today's 15-16 kernels)."""
    A = torch.linalg.qr(torch.randn(2, 8, 8, dtype=torch.float64))[0]
    A = (A * torch.linspace(0.5, 2, 8, dtype=torch.float64)) @ A.mT
    checked, unchecked = (
        count_ops(step(lambda X, c=c: getattr(sc, op)(X, check=c), A, torch.ones_like(A))) for c in (True, False)
    )
    assert not any("cholesky" in name for name in checked.ops), dict(checked.ops)
    assert checked.host_syncs == 2, f"{op}: {checked.host_syncs} host reads"
    assert checked.launches - unchecked.launches <= 16, (
        f"{op}: the checks cost {checked.launches - unchecked.launches} kernels"
    )


# the Daleckii–Krein ops (eigh forward; Γ in closed form for log, exp, λ², 1/λ and non-integer
# powers, by divided differences for the other integer powers): kernels at most (5 products each)
SPECTRAL = {
    "logm": ({}, 26),
    "expm": ({}, 26),
    "matrix_power 0.5": ({"p": 0.5}, 22),
    "matrix_power -0.5": ({"p": -0.5}, 24),
    "matrix_power 0.3": ({"p": 0.3}, 36),
    "matrix_power -0.7": ({"p": -0.7}, 36),
    "matrix_power 2": ({"p": 2}, 17),
    "matrix_power -1": ({"p": -1}, 17),
    "matrix_power 3": ({"p": 3}, 36),
}


@pytest.mark.parametrize("name", SPECTRAL)
def test_daleckii_krein_op_within_its_kernel_budget(name):
    options, budget = SPECTRAL[name]
    kernels, products = kernels_and_products(name.split()[0], **options)
    assert products == 5, f"{name}: {products} matrix products, stated 5"
    assert kernels <= budget, f"{name}: {kernels} kernels, budget {budget}"
