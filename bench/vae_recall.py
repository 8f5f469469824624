"""Why the VAE's samples score high precision and very low recall: sampling, k, blur or reconstructions?

Run: `.venv/bin/python bench/vae_recall.py RUN_DIR [RUN_DIR ...]` on finished VAE runs, e.g. the default
profile's headline runs (`results/mnist/vae/d3-z100-*-s{0,1,2}-*`); a few minutes on one thread. Every image
set below is scored against the run's reference (the held-out test split) on the MNIST classifier's features,
as the run's metrics.json was: FID, IS and, for each `--k` (prdc's `nearest_k`), precision, recall, density and
coverage, with the median k-nearest-neighbour radius of the set in feature space beside the real images' own.

Sets, per run, against the whole held-out split:
- `mixture`: the samples metrics.json scored (latents from the fitted mixture, `latent_prior: gmm`), the check
  that this bench measures what the run did;
- `prior`: the same decoder sampled from N(0, I);
- `reconstructions`: the decoded posterior means of the held-out images themselves.
Against one random half of the held-out split (500 images; the classifier trained on the training images, so
they cannot stand for unseen real digits):
- `half: held-out`, `half: blurred`: the other half, sharp and blurred by a Gaussian whose sigma makes its
  sharpness (mean squared difference between neighbouring pixels) equal to the mixture samples' — real
  diversity with the VAE's blur;
- `half: mixture`, `half: prior`: the first 500 samples of each, for a comparison at the same counts.
Every number goes to `--out` as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import warnings
from pathlib import Path
from typing import Any

import torch

SIGMAS = [round(0.05 * i, 2) for i in range(0, 61)]  # the blur grid, in pixels of the 32x32 images


def sharpness(images: torch.Tensor) -> float:
    """Mean squared difference between horizontally and vertically neighbouring pixels (images in [0, 1]).

    A blur lowers it monotonically, so it converts a set of blurred images into an equivalent Gaussian sigma."""
    x = images.float()
    return float(((x[..., 1:, :] - x[..., :-1, :]) ** 2).mean() + ((x[..., :, 1:] - x[..., :, :-1]) ** 2).mean()) / 2


def blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of float images with standard deviation `sigma` pixels (the identity for 0)."""
    from torchvision.transforms.functional import gaussian_blur

    if sigma <= 0:
        return images
    size = 2 * int(3 * sigma + 0.5) + 1
    return gaussian_blur(images, [size, size], [sigma, sigma])


def matching_sigma(real: torch.Tensor, target_sharpness: float) -> float:
    """The sigma of the grid whose blur of `real` (images in [0, 1]) comes closest to `target_sharpness`."""
    return min(SIGMAS, key=lambda s: abs(sharpness(blur(real, s)) - target_sharpness))


def knn_radius(features: torch.Tensor, k: int) -> float:
    """Median distance from a point of the set to its k-th nearest other point: the balls prdc draws."""
    distances = torch.cdist(features.double(), features.double())
    return float(distances.kthvalue(k + 1, dim=1).values.median())  # +1: each point's distance to itself is 0


def features_of(classifier: Any, images: torch.Tensor) -> torch.Tensor:
    from genmodels.data import to_uint8
    from genmodels.quality.metrics import ClassifierFeatures

    extract = ClassifierFeatures(classifier, "features")
    with torch.no_grad():
        return torch.cat([extract(part) for part in to_uint8(images).split(500)]).float()


def score_set(scorer: Any, classifier: Any, images: torch.Tensor, ks: list[int]) -> dict[str, Any]:
    """FID and IS (as the run measured them) and, per k, precision/recall/density/coverage and the k-NN radius."""
    from genmodels.quality.metrics import precision_recall

    scores = scorer.score(images, precision_recall_=False)
    fake = features_of(classifier, images)
    real = scorer.real_features
    out: dict[str, Any] = {"images": len(images), "fid": scores["fid"], "is": scores["inception_score_mean"],
                           "sharpness": sharpness((images.clamp(-1, 1) + 1) / 2)}
    for k in ks:
        out[f"k={k}"] = {**precision_recall(real[: len(fake)], fake, k), "radius": knn_radius(fake, k),
                         "real_radius": knn_radius(real[: len(fake)], k)}
    return out


def measure(run_dir: Path, ks: list[int], results_root: str, samples: int) -> dict[str, Any]:
    from genmodels.data import load_dataset
    from genmodels.quality.evaluation import Evaluator
    from genmodels.quality.metrics import QualityScorer
    from genmodels.runs.trained import load_run
    from genmodels.training.generate import generate

    run = load_run(run_dir)
    c = run.config
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = load_dataset(c.dataset, "test")
    evaluator = Evaluator(results_root, log=lambda *_: None)
    classifier = evaluator.classifier(c.dataset)
    z = torch.randn(samples, c.z_dim, generator=torch.Generator().manual_seed(evaluator.sample_seed))
    mixture = generate(run.model, z)
    decoder = getattr(run.model, "vae", run.model)  # under latent_prior gmm the run samples through the mixture
    prior = generate(decoder, z)
    held_out = test.batch(slice(None))
    # the classifier trained on the training images, so their features are not those of unseen real digits:
    # the real-image controls are held-out images, scored against the other half of the held-out split
    order = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))
    half_a, half_b = order[: len(test) // 2], order[len(test) // 2:]
    sigma = matching_sigma((held_out[half_b] + 1) / 2, sharpness((mixture.clamp(-1, 1) + 1) / 2))
    full = evaluator.scorer(c.dataset, test)
    halves = QualityScorer(classifier, test.images[half_a], seed=evaluator.metric_seed)
    n = len(half_b)
    sets = {
        "mixture": (full, mixture),
        "prior": (full, prior),
        "reconstructions": (full, torch.cat([run.reconstruct(part) for part in held_out.split(500)])),
        "half: held-out": (halves, held_out[half_b]),
        "half: blurred": (halves, blur(held_out[half_b], sigma).clamp(-1, 1)),
        "half: mixture": (halves, mixture[:n]),
        "half: prior": (halves, prior[:n]),
    }
    recorded = (run.metrics.get("quality") or {})
    return {"run": str(run_dir), "seed": c.seed, "step": run.step, "latent_prior": c.latent_prior,
            "blur_sigma": sigma, "reference": test.meta.get("reference"), "reference_images": len(test),
            "recorded": {key: recorded.get(key) for key in ("fid", "precision", "recall", "density", "coverage")},
            "sets": {name: score_set(scorer, classifier, images, ks) for name, (scorer, images) in sets.items()}}


def table(results: list[dict[str, Any]], ks: list[int]) -> list[str]:
    """One line per image set and k: the median over runs [min, max] of each metric."""
    def cell(values: list[float], fmt: str) -> str:
        return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}, {max(values):{fmt}}]"

    lines = [f"{'set':<18}{'k':>3}  {'FID':<23}{'IS':<19}{'precision':<19}{'recall':<19}{'density':<19}"
             f"{'coverage':<19}{'radius / real radius'}"]
    for name in results[0]["sets"]:
        runs = [r["sets"][name] for r in results]
        for k in ks:
            at = [r[f"k={k}"] for r in runs]
            lines.append(f"{name:<18}{k:>3}  {cell([r['fid'] for r in runs], '.1f'):<23}"
                         f"{cell([r['is'] for r in runs], '.2f'):<19}"
                         + "".join(f"{cell([a[m] for a in at], '.2f'):<19}"
                                   for m in ("precision", "recall", "density", "coverage"))
                         + cell([a["radius"] / a["real_radius"] for a in at], ".2f"))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="finished VAE run folders")
    parser.add_argument("--k", default="3,5,10", help="prdc's nearest_k values (the project's metrics use 3)")
    parser.add_argument("--samples", type=int, default=2000, help="generated images per set, as the runs scored")
    parser.add_argument("--results", default="results", help="where the MNIST classifier is cached")
    parser.add_argument("--out", type=Path, default=Path("results/bench/vae_recall.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    ks = [int(k) for k in args.k.split(",")]
    results = []
    for run_dir in args.runs:
        result = measure(run_dir, ks, args.results, args.samples)
        recorded = result["recorded"]
        mixture = result["sets"]["mixture"][f"k={ks[0]}"]
        print(f"{run_dir.name}: blur sigma {result['blur_sigma']:.2f} px; metrics.json precision / recall "
              f"{recorded['precision']} / {recorded['recall']}, here (k={ks[0]}) "
              f"{mixture['precision']:.3f} / {mixture['recall']:.3f}", flush=True)
        results.append(result)
    print(f"\n{len(results)} runs; median [min, max] over runs; reference: {results[0]['reference']} "
          f"({results[0]['reference_images']} images)")
    print("\n".join(table(results, ks)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": {**vars(args), "runs": [str(r) for r in args.runs], "out": str(args.out)},
                                    "results": results}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
