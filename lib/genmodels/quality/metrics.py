"""Sample quality: FID, KID, Inception Score and precision/recall on a data set's own classifier.

SPEC "Quality measurement": Inception-v3 is meaningless on 32x32 digits, so every metric runs on the
feature classifier of `genmodels.quality.classifier` (trained on the data set's training split):

- Fréchet distance (Heusel et al. 2017) and kernel distance KID (Bińkowski et al. 2018) on its
  penultimate features, through ``torchmetrics.image`` with the classifier passed as ``feature=<nn.Module>``;
- a classifier-based Inception Score (Salimans et al. 2016) from its logits (torchmetrics applies the
  softmax itself);
- precision and recall of Kynkäänniemi et al. 2019 (k-NN manifolds, k=3) on the same features, with the
  ``prdc`` package (Naeem et al. 2020), which also gives density and coverage.

The reference images are the held-out test split; every result records how many fake and real images it
used. Generated images are quantised to uint8 first, as saved images would be, so fake and real images take
the same path into the classifier.

Entry points: `evaluate_images` (two image sets -> dict), `QualityScorer` (real statistics computed once,
many fake sets scored against them), `inception_score` (one set alone) and `reference_scores` (what real data
scores: IS of the test set, FID between its two halves, cached beside the classifier).

This module only scores images; evaluating a model while and after it trains (the quality hook, best.pt,
metrics.json) is `genmodels.quality.evaluation`, which calls it.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import time
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from genmodels.quality.classifier import CLASSIFIER_DATA, FeatureClassifier, classifier_dir, get_classifier
from genmodels.data import load_dataset, to_uint8
from genmodels.core.store import DEFAULT_ROOT, read_json, write_json

REFERENCE = "reference.json"
DEFAULT_K = 3  # Kynkäänniemi et al. 2019 use k = 3


# ---------------------------------------------------------------------------------------------- adapter
class _LastBatch:
    """Features and logits of the most recent input, so FID, KID and IS share one classifier pass per batch."""

    def __init__(self, classifier: FeatureClassifier) -> None:
        self.classifier = classifier
        self.input: torch.Tensor | None = None
        self.version = -1
        self.outputs: tuple[torch.Tensor, torch.Tensor] | None = None

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.outputs is None or images is not self.input or images._version != self.version:
            device = next(self.classifier.parameters()).device
            x = images.to(device)
            x = x.float().div(127.5).sub(1.0) if x.dtype == torch.uint8 else x.float()  # -> [-1, 1]
            self.classifier.eval()
            self.outputs = self.classifier.features_and_logits(x)
            self.input, self.version = images, images._version
        return self.outputs

    def clear(self) -> None:
        self.input, self.outputs = None, None


class ClassifierFeatures(nn.Module):
    """What torchmetrics calls as ``feature=``: images -> (B, num_features) features or (B, 10) logits.

    Images are (B, C, 32, 32), uint8 in [0, 255] or floats in [-1, 1]. ``num_features`` is set, so
    torchmetrics reads it instead of probing the module with a random 299x299 RGB image (see
    ``FrechetInceptionDistance.__init__``); with a custom module torchmetrics passes the images through
    unchanged (its ``normalize`` flag only matters for that probe), so uint8 and floats both work here.
    The module never leaves evaluation mode, like torchmetrics' own ``NoTrainInceptionV3``.
    """

    def __init__(self, classifier: FeatureClassifier, output: str = "features", shared: _LastBatch | None = None) -> None:
        super().__init__()
        if output not in ("features", "logits"):
            raise ValueError(f"output must be 'features' or 'logits', got {output!r}")
        self.classifier = classifier
        self.output = output
        self.num_features = classifier.feature_dim if output == "features" else int(classifier.head.out_features)
        self._shared = shared or _LastBatch(classifier)

    def train(self, mode: bool = True) -> "ClassifierFeatures":
        return super().train(False)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features, logits = self._shared(images)
        # back on the input's device: the metric states live where the metric object is (the CPU), while the
        # classifier may run on a GPU
        return (features if self.output == "features" else logits).to(images.device)


# ---------------------------------------------------------------------------------------------- precision / recall
def precision_recall(real_features: torch.Tensor | np.ndarray, fake_features: torch.Tensor | np.ndarray,
                     k: int = DEFAULT_K) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019), plus density and coverage (Naeem et al. 2020).

    Each set's manifold is the union of balls around its points with the radius of the distance to the
    k-th nearest neighbour. Precision: the share of fake points inside the real manifold. Recall: the share
    of real points inside the fake manifold. Computed by ``prdc.compute_prdc``.
    """
    from prdc import compute_prdc

    real = np.asarray(real_features.detach().cpu() if torch.is_tensor(real_features) else real_features, np.float32)
    fake = np.asarray(fake_features.detach().cpu() if torch.is_tensor(fake_features) else fake_features, np.float32)
    if min(len(real), len(fake)) < k + 2:  # prdc's argpartition needs k + 2 points
        raise ValueError(f"precision/recall with k={k} needs at least {k + 2} points per set, "
                         f"got {len(real)} and {len(fake)}")
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # prdc prints the set sizes
        # scikit-learn >= 1.7 warns about its own threaded pairwise distances, which prdc asks for
        warnings.filterwarnings("ignore", message=".*sklearn.utils.parallel.delayed.*")
        out = compute_prdc(real_features=real, fake_features=fake, nearest_k=k)
    return {name: float(value) for name, value in out.items()}


# ---------------------------------------------------------------------------------------------- scoring
class QualityScorer:
    """Real-image statistics computed once; `score` compares any number of fake sets against them.

    `real`: reference images (N, C, 32, 32), uint8 or floats in [-1, 1] (the held-out test split).
    FID and KID use all of them; precision/recall use a seeded random subset as large as the fake set,
    because k-NN radii shrink as a set grows and the two manifolds should be estimated alike.
    """

    def __init__(self, classifier: FeatureClassifier, real: torch.Tensor, *, k: int = DEFAULT_K,
                 kid_subsets: int = 100, kid_subset_size: int = 1000, is_splits: int = 10,
                 batch: int = 500, seed: int = 0, quantize: bool = True) -> None:
        from torchmetrics.image.fid import FrechetInceptionDistance
        from torchmetrics.image.inception import InceptionScore
        from torchmetrics.image.kid import KernelInceptionDistance

        self.classifier = classifier.eval()
        self.k, self.kid_subsets, self.kid_subset_size, self.is_splits = k, kid_subsets, kid_subset_size, is_splits
        self.batch, self.seed, self.quantize = batch, seed, quantize
        shared = _LastBatch(classifier)
        self._shared = shared
        features = ClassifierFeatures(classifier, "features", shared)
        logits = ClassifierFeatures(classifier, "logits", shared)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*will save all extracted features in buffer.*")
            self.fid = FrechetInceptionDistance(feature=features, reset_real_features=False)
            self.kid = KernelInceptionDistance(feature=features, reset_real_features=False, subsets=kid_subsets,
                                               subset_size=kid_subset_size)
            self.inception = InceptionScore(feature=logits, splits=is_splits)
        self.real_features = self._update(self._prepare(real), real=True)
        self.real_samples = len(self.real_features)
        self._pr_order = torch.randperm(self.real_samples, generator=torch.Generator().manual_seed(seed))

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[-2:] != (32, 32):
            raise ValueError(f"expected images (N, C, 32, 32), got {tuple(images.shape)}")
        if images.dtype != torch.uint8 and self.quantize:
            return to_uint8(images.cpu())
        return images

    @torch.no_grad()
    def _update(self, images: torch.Tensor, real: bool) -> torch.Tensor:
        """Feed batches to FID and KID (and IS for fakes); returns the features (N, feature_dim) on CPU."""
        feats = []
        for part in images.split(self.batch):
            features, _ = self._shared(part)  # one classifier pass, reused by the metrics below
            self.fid.update(part, real=real)
            self.kid.update(part, real=real)
            if not real:
                self.inception.update(part)
            feats.append(features.float().cpu())
        self._shared.clear()
        return torch.cat(feats)

    @torch.no_grad()
    def score(self, fake: torch.Tensor, precision_recall_: bool = True) -> dict[str, Any]:
        """FID, KID (mean, std over subsets), IS (mean, std over splits) and, optionally, precision/recall."""
        started = time.perf_counter()
        fake = self._prepare(fake)
        n = len(fake)
        if n < 2:
            raise ValueError("at least 2 fake images are needed")
        for metric in (self.fid, self.kid, self.inception):
            metric.reset()  # FID and KID keep their real statistics (reset_real_features=False)
        # subsets of at most half of either set, so that they differ and their spread means something
        self.kid.subset_size = max(2, min(self.kid_subset_size, n // 2, self.real_samples // 2))
        with torch.random.fork_rng(devices=[]):  # KID subsets and IS splits draw from torch's global RNG
            torch.manual_seed(self.seed)
            fake_features = self._update(fake, real=False)
            fid = float(self.fid.compute())
            kid_mean, kid_std = (float(v) for v in self.kid.compute())
            is_mean, is_std = (float(v) for v in self.inception.compute())
        out: dict[str, Any] = {
            "fid": fid, "kid_mean": kid_mean, "kid_std": kid_std,
            "inception_score_mean": is_mean, "inception_score_std": is_std,
        }
        if precision_recall_:
            m = min(n, self.real_samples)
            pr = precision_recall(self.real_features[self._pr_order[:m]], fake_features, self.k)
            out.update(pr, k=self.k, pr_real_samples=m)
        out.update(fake_samples=n, real_samples=self.real_samples, kid_subset_size=self.kid.subset_size,
                   kid_subsets=self.kid_subsets, is_splits=self.is_splits, seconds=round(time.perf_counter() - started, 2))
        return out


def evaluate_images(fake: torch.Tensor, real: torch.Tensor, classifier: FeatureClassifier, *,
                    k: int = DEFAULT_K, precision_recall: bool = True, **options: Any) -> dict[str, Any]:
    """Score `fake` against `real` (both (N, C, 32, 32), uint8 or floats in [-1, 1]) on `classifier`'s features.

    Returns fid, kid_mean, kid_std, inception_score_mean, inception_score_std, precision, recall, density,
    coverage and the sample counts used. `options` go to `QualityScorer` (kid_subsets, is_splits, seed, ...).
    """
    return QualityScorer(classifier, real, k=k, **options).score(fake, precision_recall_=precision_recall)


@torch.no_grad()
def inception_score(images: torch.Tensor, classifier: FeatureClassifier, splits: int = 10, seed: int = 0,
                    batch: int = 500) -> tuple[float, float]:
    """Classifier-based Inception Score of `images` alone (mean, std over `splits`), via torchmetrics."""
    from torchmetrics.image.inception import InceptionScore

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features in buffer.*")
        metric = InceptionScore(feature=ClassifierFeatures(classifier, "logits"), splits=splits)
    images = to_uint8(images) if images.dtype != torch.uint8 else images
    for part in images.split(batch):
        metric.update(part)
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*degrees of freedom.*")  # splits=1 has no spread: std is nan
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)  # std is nan for splits=1: one split has no spread


# ---------------------------------------------------------------------------------------------- real data
def reference_scores(dataset: str, results_root: str | os.PathLike[str] = DEFAULT_ROOT, *, n: int | None = None,
                     seed: int = 0, data_root: str | os.PathLike[str] | None = None,
                     classifier: FeatureClassifier | None = None, refresh: bool = False) -> dict[str, Any]:
    """What real data scores on the data set's classifier, cached in ``<results>/classifiers/<name>/reference.json``.

    The test split is cut into two disjoint random halves A and B (`n` images each; default: half the split):
    IS of the whole test split and of each half, and FID, KID, precision and recall of A against B -- the
    floor a perfect generator would reach with that many samples.
    """
    model = classifier if classifier is not None else get_classifier(dataset, results_root, data_root=data_root)
    key = CLASSIFIER_DATA.get(dataset, dataset)
    path = classifier_dir(key, results_root) / REFERENCE
    test = load_dataset(key, "test", data_root)
    # another reference set or another way of computing it, another entry
    entry = f"n={n or 'half'},seed={seed},test={test.meta['checksum']},is_split_min=1000,kid_subset=half"
    cached = read_json(path)  # None when missing or unreadable: computed again
    if not isinstance(cached, dict):
        cached = {}
    model_hash = (getattr(model, "meta", None) or {}).get("hash")
    if cached.get("classifier_hash") != model_hash:
        cached = {"classifier_hash": model_hash, "entries": {}}
    if not refresh and entry in cached["entries"]:
        return cached["entries"][entry]

    half = len(test) // 2
    size = min(n or half, half)
    order = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))
    a, b = test.images[order[:size]], test.images[order[half : half + size]]
    # splits of at least 1,000 images (10 on an official 10,000-image test set, 1 on MNIST's held-out 1,000): with
    # small splits the class marginal is estimated from few samples and the score is biased low
    splits = max(1, min(10, len(test) // 1000))
    is_all = inception_score(test.images, model, splits=splits, seed=seed)
    half_splits = max(1, min(10, size // 1000))
    is_a = inception_score(a, model, splits=half_splits, seed=seed)
    is_b = inception_score(b, model, splits=half_splits, seed=seed)
    pair = evaluate_images(b, a, model, seed=seed)
    result = {
        "dataset": key, "classifier_hash": model_hash, "accuracy": (getattr(model, "meta", None) or {}).get("accuracy"),
        "test_images": len(test), "half_images": size, "seed": seed, "reference": test.meta.get("reference"),
        "inception_score_test": {"mean": is_all[0], "std": _finite(is_all[1]), "images": len(test), "splits": splits},
        "inception_score_halves": [{"mean": is_a[0], "std": _finite(is_a[1])},
                                   {"mean": is_b[0], "std": _finite(is_b[1])}],
        "fid_halves": pair["fid"], "kid_halves": {"mean": pair["kid_mean"], "std": pair["kid_std"]},
        "precision_halves": pair["precision"], "recall_halves": pair["recall"],
        "text": (f"real data scores ({test.meta.get('reference', 'test split')}, {len(test)} images): IS {is_all[0]:.2f}"
                 + (f" ± {is_all[1]:.2f}" if math.isfinite(is_all[1]) else "") + "; "
                 f"two disjoint halves of {size} images: FID {pair['fid']:.3f}, KID {pair['kid_mean']:.5f}, "
                 f"precision {pair['precision']:.3f}, recall {pair['recall']:.3f}"),
    }
    cached["entries"][entry] = result
    write_json(path, cached)
    return result


def _finite(value: float) -> float | None:
    """None for the std of a single split (nan), so that metrics files hold valid JSON and compare equal."""
    return value if math.isfinite(value) else None


__all__ = ["ClassifierFeatures", "QualityScorer", "evaluate_images", "inception_score", "precision_recall",
           "reference_scores", "DEFAULT_K", "REFERENCE"]
