#!/usr/bin/env bash
# The ODE core's GPU check (issue 4), one script for a lent GPU machine: the CUDA tests
# (every solver against the CPU, gradients, captured graphs, compiled steps) and the
# benchmark with the large case. neurosym's dependencies must be importable (on a bare
# machine: pip install --target DIR the wheels of lark etc., then PYTHONPATH=$PWD:DIR).
# Budget: ~1 min of tests, ~3-4 min of benchmark (torch.compile's first calls compile
# Triton kernels; pass --no-compile to ode_bench.py to skip those rows).
set -u
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
timeout 240 python3 -m pytest -q -p no:cacheprovider tests/test_ode_cuda.py
timeout 330 python3 benchmarks/ode_bench.py --device cuda --quick --large "$@"
