"""Training spread over several devices gives the single-process, unsharded gradients.

spectralcore's ops act on each matrix of a batch independently (the pre-normalisation,
the iterations, the eigensolver and every backward are per matrix; no reduction runs over
the batch), so splitting the batch over devices must not change a gradient. These tests
check that on CPU, so they run in CI without accelerators:

* JAX: 8 float32 6 × 6 covariances sharded over 4 XLA host devices
  (``--xla_force_host_platform_device_count=4``, set before jax is imported, hence a
  subprocess). ``jax.jit(jax.grad(loss))`` on the batch placed with
  ``NamedSharding(Mesh(devices, ("batch",)), PartitionSpec("batch"))``, and the same grad
  under ``shard_map`` (each device differentiates its local loss), against ``jit(grad)`` on
  the whole batch on one device, for ``sc.sqrtm`` (mpa + lyapunov), ``sc.eigh`` (taylor,
  eigenvalue and eigenvector terms) and ``sc.invsqrtm`` (mpa + lyapunov). Also: the
  gradients come back sharded over the 4 devices, and the compiled sharded program holds
  no collective (each device works on its 2 matrices only, nothing is gathered). Eager
  ``jax.grad`` (no jit) on the sharded batch, and inside ``jax.set_mesh`` of a mesh with explicit
  axes, gives the same gradients, sharded alike (the explicit case failed until the identity and
  other constants stopped taking the batch's sharding as their device).
  Measured (jax 0.10.2, CPU): max |Δ| 2.4e-7 to 9.5e-7 over runs (at most 1.8e-7 of max |g|;
  XLA's CPU threading varies the rounding), eigh + taylor bitwise equal.
* torch: ``DistributedDataParallel`` over 2 processes (gloo, CPU), each taking half of a
  fixed batch of 8, with a model conv → ``CovariancePooling`` (mpa + lyapunov) → linear
  and a loss that is a mean over the batch; the all-reduced (averaged) parameter gradients
  against one process's gradients on the full batch. Measured (torch 2.13 CPU): max |Δ|
  1.3e-8, 4.5e-7 of max |g| (the conv weight, upstream of the square root); the linear
  bias bitwise equal.

Stated tolerance: rtol 1e-5 (relative to the largest gradient entry), float32 on both sides.
The two sides run the same arithmetic on different batch sizes, so the compiler or BLAS
may vectorise differently: rounding-level differences (≈ 1e-7 relative), not more.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap

import pytest

RTOL = 1e-5  # of max |g|, float32
TIMEOUT = 180  # seconds per subprocess; each takes a few seconds
# the subprocesses run outside the checkout, so they import the installed spectralcore as this
# process does (`python -c` puts the working directory, a checkout's spectralcore/, first on sys.path)
CWD = tempfile.gettempdir()


def _run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=TIMEOUT, env=env, cwd=CWD
    )
    assert proc.returncode == 0, (
        f"subprocess failed (rc {proc.returncode})\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-6000:]}"
    )
    return proc


# ------------------------------------------------------------------------------ JAX

JAX_SCRIPT = textwrap.dedent("""
    import json, re
    import numpy as np
    import jax, jax.numpy as jnp
    from jax.sharding import Mesh, NamedSharding, PartitionSpec
    try:
        from jax import shard_map                        # jax >= 0.6
    except ImportError:
        from jax.experimental.shard_map import shard_map  # older jax
    import spectralcore as sc

    devices = jax.devices()
    assert len(devices) == 4, devices
    rng = np.random.default_rng(20261123)
    X = rng.standard_normal((8, 6, 32))
    A = (X @ X.transpose(0, 2, 1) / 32 + 1e-3 * np.eye(6)).astype(np.float32)  # 8 SPD covariances
    G = rng.standard_normal((8, 6, 6))
    G = (G + G.transpose(0, 2, 1)).astype(np.float32)
    c = rng.standard_normal((8, 6)).astype(np.float32)

    def loss_sqrtm(A, G, c):
        return jnp.sum(G * sc.sqrtm(A, forward="mpa", backward="lyapunov"))

    def loss_eigh(A, G, c):  # eigenvalues and eigenvectors (sign-invariant: V * V)
        w, V = sc.eigh(A, backward="taylor")
        return jnp.sum(c * w) + jnp.sum(G * V * V)

    def loss_invsqrtm(A, G, c):
        return jnp.sum(G * sc.invsqrtm(A, forward="mpa", backward="lyapunov"))

    mesh = Mesh(np.array(devices), ("batch",))
    batch = PartitionSpec("batch")
    sharding = NamedSharding(mesh, batch)
    whole = [jax.device_put(jnp.asarray(v), devices[0]) for v in (A, G, c)]
    sharded = [jax.device_put(jnp.asarray(v), sharding) for v in (A, G, c)]
    collectives = ("all-gather", "all-reduce", "all-to-all", "collective-permute", "reduce-scatter")

    out = {"jax": jax.__version__, "shard_map": shard_map.__module__,
           "input_devices": len(sharded[0].sharding.device_set)}
    for name, loss in [("sqrtm", loss_sqrtm), ("eigh", loss_eigh), ("invsqrtm", loss_invsqrtm)]:
        grad = jax.jit(jax.grad(loss))
        ref = np.asarray(grad(*whole))
        per_shard = jax.jit(shard_map(jax.grad(loss), mesh=mesh, in_specs=(batch, batch, batch), out_specs=batch))
        hlo = grad.lower(*sharded).compile().as_text()
        out[name] = {"ref_finite": bool(np.isfinite(ref).all()), "ref_max": float(np.abs(ref).max()),
                     "collectives": {k: len(re.findall(k, hlo)) for k in collectives},
                     "local_batch_2": "f32[2,6,6]" in hlo}
        runs = [("jit", grad(*sharded)), ("shard_map", per_shard(*sharded)), ("eager", jax.grad(loss)(*sharded))]
        if hasattr(jax, "set_mesh"):  # explicit sharding (jax >= 0.7): eager, op by op, inside the mesh
            explicit = jax.make_mesh((4,), ("batch",), axis_types=(jax.sharding.AxisType.Explicit,))
            placed = [jax.device_put(jnp.asarray(v), NamedSharding(explicit, batch)) for v in (A, G, c)]
            with jax.set_mesh(explicit):
                runs.append(("eager, explicit mesh", jax.grad(loss)(*placed)))
                value = float(loss(*placed))  # the forward alone, on concrete sharded arrays
                root = np.asarray(sc.sqrtm(placed[0]))  # the eigh forward, which builds n x n constants
            expected = np.asarray(sc.sqrtm(whole[0]))
            out[name]["value_rel"] = max(abs(value - float(jax.jit(loss)(*whole))) / abs(value),
                                         float(np.abs(root - expected).max() / np.abs(expected).max()))
        out["explicit"] = hasattr(jax, "set_mesh")
        for how, g in runs:
            diff = np.abs(np.asarray(g) - ref)
            out[name][how] = {"devices": len(g.sharding.device_set),
                              "shards": sorted({tuple(s.data.shape) for s in g.addressable_shards}),
                              "max_abs": float(diff.max()), "max_rel": float(diff.max() / np.abs(ref).max())}
    print(json.dumps(out))
""")


def test_jax_sharded_batch_gives_unsharded_gradients():
    pytest.importorskip("jax", reason="jax is not installed")
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()
    env["JAX_PLATFORMS"] = "cpu"
    proc = _run(JAX_SCRIPT, env)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(result, indent=1))
    assert result["input_devices"] == 4, result
    for name in ("sqrtm", "eigh", "invsqrtm"):
        r = result[name]
        assert r["ref_finite"] and r["ref_max"] > 0, (name, r)
        # batch-parallel: every device runs its 2 matrices, nothing is gathered or reduced
        assert r["local_batch_2"] and not any(r["collectives"].values()), (name, r)
        assert not result["explicit"] or r["value_rel"] <= RTOL, (name, r)
        for how in ("jit", "shard_map", "eager") + (("eager, explicit mesh",) if result["explicit"] else ()):
            g = r[how]
            assert g["devices"] == 4 and g["shards"] == [[2, 6, 6]], (name, how, g, proc.stderr[-3000:])
            assert g["max_rel"] <= RTOL, (name, how, g, proc.stderr[-3000:])


# ------------------------------------------------------------------------------ torch DDP

# The model puts the spectral op on per-sample matrices: covariance pooling takes each
# sample's own channel covariance over its spatial positions (ICCV 2021 eq. 1), so a sample's
# output does not depend on the other samples and a rank's half batch computes exactly what
# the full batch computes for those samples. A layer with batch statistics (ZCAWhitening /
# DecorrelatedBatchNorm in training mode: the covariance of the whole batch) would whiten
# each rank's half with that half's covariance, a different function than the full batch's
# (as for BatchNorm without SyncBatchNorm), so its DDP gradients are not the single-process
# ones and are not tested here. With loss = mean over the batch and equal halves, DDP's
# gradient average (sum over ranks / world size) equals the full-batch gradient.
TORCH_SCRIPT = textwrap.dedent("""
    import os, sys
    import torch
    from torch import nn
    from spectralcore.adapters.torch_layers import CovariancePooling

    torch.set_num_threads(1)
    mode, out_path = sys.argv[1], sys.argv[2]

    def make_model():
        torch.manual_seed(0)
        return nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1, bias=False),  # per-sample features (a bias cancels in the centred covariance)
            CovariancePooling(forward="mpa", backward="lyapunov", triu=True),  # per-sample 4 x 4 sqrtm -> 10
            nn.Linear(10, 3))

    generator = torch.Generator().manual_seed(1)
    x = torch.randn(8, 3, 6, 6, generator=generator)
    y = torch.randint(0, 3, (8,), generator=generator)

    def grads(model, xs, ys):
        model.zero_grad()
        nn.functional.cross_entropy(model(xs), ys).backward()  # mean over the batch
        return {name: p.grad.detach().clone() for name, p in model.named_parameters()}

    if mode == "single":
        torch.save(grads(make_model(), x, y), out_path)
    else:
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel as DDP
        dist.init_process_group("gloo")  # MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE from the environment
        rank, world = dist.get_rank(), dist.get_world_size()
        part = slice(rank * 8 // world, (rank + 1) * 8 // world)
        ddp = DDP(make_model())
        averaged = grads(ddp, x[part], y[part])
        averaged = {name.removeprefix("module."): g for name, g in averaged.items()}
        local = grads(make_model(), x[part], y[part])  # this rank's half alone, no all-reduce
        torch.save({"averaged": averaged, "local": local}, out_path)
        # Leave without tearing down: torch 2.13's gloo teardown can deadlock here (the DDP
        # Reducer frees the last process-group reference while holding the GIL and joins
        # gloo's worker threads, one of which waits for the GIL to free a finished all-reduce;
        # a torch-only model without spectralcore hung at exit too, under CPU load). Both ranks'
        # all-reduces are complete and the gradients are saved, so nothing is lost.
        sys.stdout.flush()
        os._exit(0)
""")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torch_ddp_gives_single_process_gradients(tmp_path):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    dist = pytest.importorskip("torch.distributed", reason="torch.distributed is not available")
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with the gloo backend is not available in this torch build")
    world = 2
    env = dict(
        os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), WORLD_SIZE=str(world), OMP_NUM_THREADS="1"
    )
    paths = [tmp_path / f"rank{r}.pt" for r in range(world)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", TORCH_SCRIPT, "ddp", str(paths[r])],
            env=dict(env, RANK=str(r)),
            cwd=CWD,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in range(world)
    ]
    try:
        reference_path = tmp_path / "single.pt"
        proc = subprocess.run(
            [sys.executable, "-c", TORCH_SCRIPT, "single", str(reference_path)],
            env=env,
            cwd=CWD,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert proc.returncode == 0, proc.stderr[-6000:]
        outputs = []
        for r, p in enumerate(procs):
            try:
                outputs.append(p.communicate(timeout=TIMEOUT))
            except subprocess.TimeoutExpired:
                p.kill()
                stdout, stderr = p.communicate()
                pytest.fail(
                    f"rank {r} did not finish in {TIMEOUT} s\nstdout:\n{stdout[-3000:]}\nstderr:\n{stderr[-6000:]}"
                )
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for r, (p, (stdout, stderr)) in enumerate(zip(procs, outputs)):
        assert p.returncode == 0, (
            f"rank {r} failed (rc {p.returncode})\nstdout:\n{stdout[-3000:]}\nstderr:\n{stderr[-6000:]}"
        )
    full = torch.load(reference_path)
    ranks = [torch.load(path) for path in paths]
    assert sorted(full) == ["0.weight", "2.bias", "2.weight"], sorted(full)
    worst = 0.0
    for name, want in full.items():
        assert torch.isfinite(want).all() and want.abs().max() > 0, name
        scale = want.abs().max().item()
        for r, got in enumerate(ranks):
            diff = (got["averaged"][name] - want).abs().max().item()
            worst = max(worst, diff / scale)
            print(f"{name} rank {r}: max |DDP - single| = {diff:.3g} ({diff / scale:.3g} of max |g|)")
            assert diff <= RTOL * scale, (name, r, diff, scale)
        # not vacuous: one rank's half batch alone gives a clearly different gradient
        half = max((rank["local"][name] - want).abs().max().item() for rank in ranks)
        assert half > 1e-3 * scale, (name, half, scale)
    print(f"worst relative difference {worst:.3g}")
