"""Built-in methods, each registered through the same pluggy hooks a third party uses.

One module per method (power iteration and Newton–Schulz hold a forward and its backward).
"""

BUILTIN = ("spectralcore.adapters.array_api", "spectralcore.adapters.torch", "spectralcore.adapters.jax") + tuple(
    f"spectralcore.plugins.{name}"
    for name in (
        "eigh_solver",
        "power_iteration",
        "exact",
        "degenerate_safe",
        "clip",
        "topn",
        "taylor",
        "pade",
        "lorentzian",
        "eigenbasis",
        "mtp",
        "mpa",
        "newton_schulz",
        "lyapunov",
    )
)
