"""Memory of ``ml.interpret.netdissect.dissect`` stays flat as the dataset grows.

    python bench/ml_netdissect.py [--images 100 --factor 4 --width 16 --size 64]

Dissects ``layer3`` and ``layer4`` of a small 2D ResNet on a planted Broden set
(``ml.interpret.synthetic``) of N and then ``factor x N`` images, each run in a
fresh process, and prints the growth of the peak resident memory during the
dissection (peak RSS minus the RSS just before it) and its ratio between the
two sizes. Baseline, computed for the same runs: the activations a
store-everything dissection would keep in memory (``units x h x w x images``
float32, as NetDissect-Lite's feature arrays), which grows ``factor`` times.
Target: a ratio near 1 (bounded memory) against ``factor`` for the baseline.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()


def child(images: int, width: int, size: int, root: Path) -> dict:
    """One dissection in this process; returns the measurements."""
    import torch

    from ml.interpret.broden import load_broden
    from ml.interpret.netdissect import dissect
    from ml.interpret.synthetic import write_planted_broden
    from ml.models.resnet import resnet50

    torch.set_num_threads(2)
    torch.manual_seed(0)
    planted = write_planted_broden(root / "broden", kind="broden", images=images, size=size)
    data = load_broden([planted.root])
    model = resnet50(num_classes=10, width=width, depth=(1, 1, 1, 1)).eval()
    with torch.no_grad():  # the feature shapes, for the store-everything baseline
        probe = model.layer3(model.layer2(model.layer1(model.maxpool(model.relu(model.bn1(model.conv1(
            torch.zeros(1, 3, size, size))))))))
        last = model.layer4(probe)
    stored = sum(t.shape[1] * t.shape[2] * t.shape[3] for t in (probe, last)) * 4 * images
    before = _rss_bytes()
    start = time.perf_counter()
    dissect(model, data, layers=["layer3", "layer4"], batch_size=16, progress=False)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    return {"images": images, "growth": max(0, peak - before), "stored": stored, "seconds": seconds,
            "units": int(probe.shape[1] + last.shape[1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--factor", type=int, default=4)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.width, args.size, args.root)))
        return
    runs = []
    for images in (args.images, args.images * args.factor):
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run([sys.executable, __file__, "--child", str(images), "--width", str(args.width),
                                   "--size", str(args.size), "--root", tmp], capture_output=True, text=True,
                                  check=True, cwd=REPO)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    small, large = runs
    mib = 1 << 20
    print(f"layer3 + layer4 of a width-{args.width} ResNet ({small['units']} units), {args.size}px images")
    for run in runs:
        print(f"  {run['images']:6d} images: peak RSS growth {run['growth'] / mib:8.1f} MiB   "
              f"store-everything activations {run['stored'] / mib:8.1f} MiB   "
              f"{run['seconds'] / run['images'] * 1e3:6.1f} ms/image")
    ratio = large["growth"] / max(small["growth"], 1)
    print(f"  {args.factor}x images -> memory growth x{ratio:.2f} (store-everything baseline "
          f"x{large['stored'] / small['stored']:.2f})")
    full = 2048 * 7 * 7 * 4 * (63_305 + 67_468)  # ResNet-50 block 4 at 224 px on Broden + Action Regions
    print(f"  for scale: storing block 4 of ResNet-50 for Broden + Action Regions (130,773 images) "
          f"takes {full / (1 << 30):.1f} GiB")


if __name__ == "__main__":
    main()
