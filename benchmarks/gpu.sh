#!/usr/bin/env bash
# Every GPU number of the "GPU speed" issue in one run, on a machine with a CUDA device and torch,
# jax[cuda] and cupy installed beside spectralcore (pip install -e ".[test,report]" cupy-cuda12x).
# Writes everything under ${OUT:-gpu-results}/ and stops at the first failing step.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-results}"
mkdir -p "$out"
python -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA device'; print(torch.cuda.get_device_name())" \
    | tee "$out/device.txt"
python -m pytest -q tests/test_gpu.py tests/test_linalg.py tests/test_cross_backend.py -rs | tee "$out/tests.txt"
spectralcore conformance --device cuda --json "$out/conformance.json" | tee "$out/conformance.txt"
spectralcore report --device cuda --full --out "$out/report" | tee "$out/report.txt"
python benchmarks/adapter_overhead.py --device cuda | tee "$out/adapter_overhead.txt"
python benchmarks/scaling.py --device cuda --torch-compile --cuda-graph --skip power-iteration | tee "$out/scaling.txt"
