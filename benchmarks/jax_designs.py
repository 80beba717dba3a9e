"""The JAX adapter's designs, side by side under jax.jit on one array (forward + backward:
value_and_grad of the loss ⟨G, out⟩, G an argument), measured in the same run, interleaved:

* ``adapter``        — what ``sc.sqrtm`` / ``sc.eigh`` use: custom_jvp, whose reverse mode runs the
  method's VJP (the JVP bound as a primitive transposed by the VJP) for approximate methods;
* ``transposed-jvp`` — custom_jvp with the JVP written as jnp code, transposed by JAX (the design
  before issue 23);
* ``custom-vjp``     — jax.custom_vjp around the same core forward and VJP.

    python benchmarks/jax_designs.py [--batch 64] [--n 64] [--repeats 30]

Prints per case the median time, its ratio to custom-vjp, and the compiled program's size:
characters of ``compile().as_text()``, HLO instructions, dots, and dots with a transposed operand
(contracting over an operand's row axis, which XLA on CPU runs ~20% slower than A @ B).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    import jax
    import jax.numpy as jnp
    import numpy as np
    from array_api_compat import array_namespace

    import spectralcore as sc
    from spectralcore.adapters import jax as adapter

    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.batch, args.n, 4 * args.n)).astype(np.float32)
    A = jnp.asarray((X @ X.transpose(0, 2, 1)) / (4 * args.n))
    A = (A + A.mT) / 2
    G = jnp.asarray(rng.standard_normal(A.shape).astype(np.float32))

    @contextlib.contextmanager
    def design(name: str):
        chosen, linear = adapter.forward_mode_available, adapter._linear
        if name == "custom-vjp":
            adapter.forward_mode_available = lambda config: False
        if name == "transposed-jvp":
            adapter._linear = lambda op, config, A, out, residuals, dA: adapter.run_jvp(
                op, array_namespace(A), A, config, residuals, dA
            )
        try:
            yield
        finally:
            adapter.forward_mode_available, adapter._linear = chosen, linear

    cases = {
        "sqrtm mpa + lyapunov": lambda X: sc.sqrtm(X, forward="mpa", backward="lyapunov", solve="lu"),
        "sqrtm mtp + lyapunov": lambda X: sc.sqrtm(X, forward="mtp", backward="lyapunov"),
        "sqrtm newton-schulz": lambda X: sc.sqrtm(X, forward="newton-schulz", backward="newton-schulz"),
        "eigh + taylor backward": lambda X: sc.eigh(X, backward="taylor"),
    }
    designs = ("adapter", "transposed-jvp", "custom-vjp")
    print(f"batch {args.batch} of {args.n}x{args.n} float32, jax {jax.__version__} cpu, value_and_grad under jit")
    print(f"{'case':26} {'design':15} {'ms':>7} {'÷ vjp':>6} {'HLO chars':>10} {'instrs':>7} {'dots':>5} {'dotsᵀ':>6}")
    for case, fn in cases.items():

        def loss(X, G, fn=fn):
            out = fn(X)
            return jnp.sum(out[0]) + jnp.sum(out[1] * G) if isinstance(out, tuple) else jnp.sum(out * G)

        compiled, sizes = {}, {}
        for name in designs:
            with design(name):
                compiled[name] = jax.jit(jax.value_and_grad(loss)).lower(A, G).compile()
            text = compiled[name].as_text()
            dots = re.findall(r" dot\([^\n]*", text)
            transposed = sum(1 for d in dots if "lhs_contracting_dims={1}" in d or "rhs_contracting_dims={2}" in d)
            instructions = len(re.findall(r"^\s+\S+ = ", text, flags=re.M))
            sizes[name] = (len(text), instructions, len(dots), transposed)
        reference = compiled["custom-vjp"](A, G)[1]
        for name in designs:
            gA = compiled[name](A, G)[1]
            assert float(jnp.max(jnp.abs(gA - reference)) / jnp.max(jnp.abs(reference))) < 1e-4, (case, name)
        times: dict[str, list[float]] = {name: [] for name in designs}
        for _ in range(3):
            for name in designs:
                compiled[name](A, G)[1].block_until_ready()
        for _ in range(args.repeats):  # interleaved: A, B, C, A, B, C, ...
            for name in designs:
                start = time.perf_counter()
                compiled[name](A, G)[1].block_until_ready()
                times[name].append(time.perf_counter() - start)
        medians = {name: statistics.median(t) for name, t in times.items()}
        for name in designs:
            chars, instructions, dots, transposed = sizes[name]
            print(
                f"{case:26} {name:15} {medians[name] * 1e3:7.2f} {medians[name] / medians['custom-vjp']:6.3f} "
                f"{chars:10d} {instructions:7d} {dots:5d} {transposed:6d}"
            )


if __name__ == "__main__":
    main()
