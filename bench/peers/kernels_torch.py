#!/usr/bin/python3
"""PyTorch CPU peer of `align bench kernels`: token log-probs and cross-entropy fwd+bwd.

Times, on the shapes of the align kernel benchmark (T=512 rows; V = 32000, 128256, 151936):
  - token_logprobs: log_softmax(logits, -1).gather(-1, targets)   (what TRL's DPO does)
  - cross_entropy fwd+bwd: F.cross_entropy(logits, targets).backward()
and prints one JSON object per line with the fields of `align bench kernels --json`
(limit_* and ratio are 0: compare with align's lines of the same run).

Run with Debian's python3-torch (apt-get install python3-torch), which links the system
libblas.so.3 (OpenBLAS here): set OPENBLAS_CORETYPE=SkylakeX or it runs SSE3 kernels.

  OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/peers/kernels_torch.py --threads 1,2 [--cpu-time]
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F


def best_time(fn, min_time, clock=time.perf_counter):
    fn()  # warm-up
    best = float("inf")
    t_end = time.perf_counter() + min_time
    reps = 0
    while reps < 3 or time.perf_counter() < t_end:
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
        reps += 1
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--T", type=int, default=512)
    ap.add_argument("--V", default="32000,128256,151936")
    ap.add_argument("--min-time", type=float, default=1.0)
    ap.add_argument("--quick", action="store_true", help="T=64, V=32000, short timings")
    ap.add_argument("--cpu-time", action="store_true",
                    help="with 1 thread, time by the thread's CPU time (like align bench kernels --cpu-time)")
    a = ap.parse_args()
    T, vs, min_time = a.T, [int(v) for v in a.V.split(",")], a.min_time
    if a.quick:
        T, vs, min_time = 64, [32000], 0.2
    torch.manual_seed(0)
    config = torch.__config__.show().replace("\n", " ")
    for th in [int(t) for t in a.threads.split(",")]:
        torch.set_num_threads(th)
        cpu = a.cpu_time and th == 1
        clock = time.thread_time if cpu else time.perf_counter
        clock_name = "cpu" if cpu else "wall"
        for V in vs:
            logits = torch.randn(T, V) * 3
            targets = torch.randint(0, V, (T,))
            shape = f"T={T} V={V}"
            nbytes = 4 * T * V

            def fwd():
                return torch.log_softmax(logits, dim=-1).gather(-1, targets[:, None])

            s = best_time(fwd, min_time, clock)
            print(json.dumps({"kernel": "token_logprobs", "shape": shape, "isa": "torch-" + torch.__version__,
                              "threads": th, "ns_per_op": s * 1e9, "gbps": nbytes / s / 1e9, "gflops": 0,
                              "limit_gbps": 0, "limit_gflops": 0, "ratio": 0, "clock": clock_name,
                              "peer": "pytorch"}), flush=True)

            lg = logits.clone().requires_grad_(True)

            def fwd_bwd():
                lg.grad = None
                F.cross_entropy(lg, targets).backward()

            s2 = best_time(fwd_bwd, min_time, clock)
            print(json.dumps({"kernel": "cross_entropy_fwd_bwd", "shape": shape, "isa": "torch-" + torch.__version__,
                              "threads": th, "ns_per_op": s2 * 1e9, "gbps": 3 * nbytes / s2 / 1e9, "gflops": 0,
                              "limit_gbps": 0, "limit_gflops": 0, "ratio": 0, "clock": clock_name,
                              "peer": "pytorch", "vs_forward": s2 / s}), flush=True)
            del logits, lg
    print(json.dumps({"peer": "pytorch", "config": config[:400]}), flush=True)


if __name__ == "__main__":
    main()
