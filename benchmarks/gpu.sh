#!/usr/bin/env bash
# Every GPU number of the "GPU speed" issue in one run, on a machine with a CUDA device and torch,
# jax[cuda13] and CuPy installed beside spectralcore (pip install ".[test,report,cuda13]"
# "jax[cuda13]", or cuda12 for both on CUDA 12).
#
# Every step runs even when an earlier one fails; each writes one file under ${OUT:-gpu-results}/
# (at most eight files in all) and summary.txt says how each step ended and how long it took.
# GPU_BUDGET_S (seconds, optional) caps the whole run: a step gets what is left, the rest are
# marked skipped. The exit status is non-zero if any step failed, timed out or was skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-results}"
py="${PYTHON:-python3}"
budget="${GPU_BUDGET_S:-1000000}"
mkdir -p "$out"
summary="$out/summary.txt"
work="$(mktemp -d)"
export PYTHONUNBUFFERED=1
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # JAX would take 75% of the GPU that torch and CuPy share
failed=0

step() {  # step NAME CAP_SECONDS OUTFILE COMMAND...: run COMMAND with its output in OUTFILE
    local name=$1 cap=$2 file=$3 left
    shift 3
    left=$((budget - SECONDS))
    ((left < cap)) && cap=$left
    if ((cap < 10)); then
        echo "$name: skipped (GPU_BUDGET_S spent)" | tee -a "$summary"
        return 1
    fi
    local t0=$SECONDS rc=0
    timeout -k 10 "$cap" "$@" >"$file" 2>&1 || rc=$?
    local how="ok"
    ((rc == 124 || rc == 137)) && how="TIMED OUT at ${cap} s" || { ((rc)) && how="FAILED (exit $rc)"; }
    echo "$name: $how in $((SECONDS - t0)) s -> $(basename "$file")" | tee -a "$summary"
    return $rc
}

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
    "$py" -c "import torch, jax, cupy, numpy; print('torch', torch.__version__, torch.version.cuda, torch.cuda.get_device_name()); print('jax', jax.__version__, jax.devices()); print('cupy', cupy.__version__); print('numpy', numpy.__version__)" 2>&1
} | tee "$summary"
"$py" -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA device'" || exit 1

# correctness first, the two in parallel (neither is timed)
step "tests (GPU, linalg, cross-backend)" 600 "$out/tests.txt" \
    "$py" -m pytest -q -p no:cacheprovider tests/test_gpu.py tests/test_linalg.py tests/test_cross_backend.py -rs &
tests=$!
step "conformance --device cuda" 600 "$out/conformance.txt" \
    "$py" -m spectralcore conformance --device cuda --json "$out/conformance.json" &
conformance=$!
wait $tests || failed=1
wait $conformance || failed=1

# timings, one at a time
step "adapter overhead, kernels and products" 400 "$out/adapter_overhead.txt" \
    bash -c "'$py' benchmarks/adapter_overhead.py --device cuda && '$py' benchmarks/kernels.py --device cuda" || failed=1
step "scaling, torch" 900 "$out/scaling_torch.txt" \
    "$py" benchmarks/scaling.py --device cuda --framework torch --torch-compile --cuda-graph \
    --skip power-iteration --repeats 7 || failed=1
step "scaling, JAX" 1200 "$out/scaling_jax.txt" \
    "$py" benchmarks/scaling.py --device cuda --framework jax --skip power-iteration --repeats 7 || failed=1
step "report --device cuda --full" 1800 "$work/report.txt" \
    "$py" -m spectralcore report --device cuda --full --out "$work/report" || failed=1
if [[ -d "$work/report" ]]; then
    cp "$work/report.txt" "$work/report/"
    tar -czf "$out/report.tar.gz" -C "$work" report  # report.md, its plots and the console table
fi
echo "finished in $SECONDS s, $([[ $failed == 0 ]] && echo "every step passed" || echo "some step failed")" \
    | tee -a "$summary"
exit $failed
