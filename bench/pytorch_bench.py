"""PyTorch reference for bench/run.ts: torchvision's efficientnet_b0, random init, one task per process.

    /usr/bin/python3 bench/pytorch_bench.py --task inference|features|head-step|full-step
        [--size 224] [--batch 8] [--warmup 1] [--runs 5] [--threads 2] [--classes 1000]

Prints one line `BENCH_RESULT {json}` in the shape of bench/bench-result.ts (BenchResult).
  inference   eval mode, no_grad, softmax probabilities
  features    eval mode, no_grad, the avgpool vector (1280 wide)
  head-step   base frozen and in eval mode (features under no_grad), classifier (dropout + linear) in
              train mode, cross-entropy, one Adam step: what our phase 1 does per batch
  full-step   every parameter trainable, train mode (batch-statistics BN, dropout), one Adam step
"""

import argparse
import json
import resource
import statistics
import time

import torch
import torchvision
from torch import nn

TASKS = ("inference", "features", "head-step", "full-step")


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", choices=TASKS, required=True)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--classes", type=int, default=1000)
    return parser.parse_args()


def busy_cpu_seconds():
    """Machine-wide busy CPU seconds from /proc/stat (as bench/machine-load.ts reads it), or None."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(t) for t in f.readline().split()[1:9]]
    except OSError:
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / 100


def make_run(task, model, x, y):
    if task in ("inference", "features"):
        model.eval()

        def infer():
            with torch.no_grad():
                if task == "inference":
                    return torch.softmax(model(x), dim=1)
                return torch.flatten(model.avgpool(model.features(x)), 1)

        return infer

    loss_fn = nn.CrossEntropyLoss()
    if task == "head-step":
        for p in model.features.parameters():
            p.requires_grad_(False)
        model.eval()
        model.classifier.train()
        optimizer = torch.optim.Adam(model.classifier.parameters(), lr=1e-3)

        def head_step():
            with torch.no_grad():
                features = torch.flatten(model.avgpool(model.features(x)), 1)
            loss = loss_fn(model.classifier(features), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return loss.item()

        return head_step

    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def full_step():
        loss = loss_fn(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    return full_step


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(1)
    model = torchvision.models.efficientnet_b0(weights=None, num_classes=args.classes)
    x = torch.rand(args.batch, 3, args.size, args.size)
    y = torch.arange(args.batch) % args.classes
    run = make_run(args.task, model, x, y)

    for _ in range(args.warmup):
        run()
    runs_ms = []
    busy_before = busy_cpu_seconds()
    cpu_before = time.process_time()
    started = time.perf_counter()
    for _ in range(args.runs):
        t0 = time.perf_counter()
        run()
        runs_ms.append((time.perf_counter() - t0) * 1000)
    wall_s = time.perf_counter() - started
    cpu_ms = (time.process_time() - cpu_before) * 1000
    busy_after = busy_cpu_seconds()
    median_ms = statistics.median(runs_ms)

    result = {
        "task": args.task,
        "engine": "pytorch",
        "imageSize": args.size,
        "batch": args.batch,
        "imagesPerSecond": args.batch * 1000 / median_ms,
        "medianMs": round(median_ms, 1),
        "runsMs": [round(ms, 1) for ms in runs_ms],
        "warmupRuns": args.warmup,
        "cpuMsPerImage": round(cpu_ms / (args.runs * args.batch), 1),
        # Linux reports ru_maxrss in KiB.
        "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__},
        "details": {"threads": torch.get_num_threads()},
    }
    if busy_before is not None and busy_after is not None:
        others = (busy_after - busy_before - cpu_ms / 1000) / wall_s
        result["othersLoad"] = max(0.0, round(others, 2))
    print("BENCH_RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
