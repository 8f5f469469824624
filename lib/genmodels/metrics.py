"""Sample quality: FID, KID, Inception Score and precision/recall on a data set's own classifier.

SPEC "Quality measurement": Inception-v3 is meaningless on 32x32 digits, so every metric runs on the
feature classifier of `genmodels.classifier` (trained on the data set's training split):

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
many fake sets scored against them), `Evaluator` / `default_evaluator` (what `run.run_config` calls:
a training hook for the quality curve and best checkpoint, and the final metrics.json content), and
`reference_scores` (what real data scores: IS of the test set, FID between its two halves).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import random
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .classifier import CLASSIFIER_DATA, FeatureClassifier, classifier_dir, get_classifier, summary
from .config import MIN_METRIC_SAMPLES
from .data import ImageSet, load_dataset, to_uint8
from .registry import model_spec
from .store import BEST, read_json, write_json
from .train import QUALITY_COLUMNS

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
def reference_scores(dataset: str, results_root: str | os.PathLike[str] = "results", *, n: int | None = None,
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


# ---------------------------------------------------------------------------------------------- VAE
@torch.no_grad()
def test_reconstruction(model: nn.Module, test_data: ImageSet, device: torch.device | str = "cpu",
                        batch: int = 500, seed: int = 0, max_images: int | None = None) -> dict[str, Any]:
    """VAE on the test split: `mse` of the posterior-mean reconstruction, and the model's own loss terms
    (`rec`, `kl`, `loss`, with a sampled z as in training), averaged over images."""
    n = min(len(test_data), max_images or len(test_data))
    was_training = model.training
    model.eval()
    sums = {"mse": 0.0, "rec": 0.0, "kl": 0.0, "loss": 0.0}
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for start in range(0, n, batch):
                x = test_data.batch(slice(start, min(n, start + batch)), device)
                size = x.shape[0]
                sums["mse"] += F.mse_loss(model.reconstruct(x).float(), x).item() * size
                terms = model(x)
                for name in ("rec", "kl", "loss"):
                    sums[name] += float(terms[name]) * size
    finally:
        model.train(was_training)
    return {**{k: v / n for k, v in sums.items()}, "images": n}


# ---------------------------------------------------------------------------------------------- runs
class QualityHook:
    """Every `metrics_every` steps: FID/KID/IS of `metric_samples` samples against the test split.

    Appends ``{step, fid, kid, is, ...}`` to ``trainer.extra_state['quality']`` and keeps the best-by-FID
    checkpoint as ``<out_dir>/best.pt``. Resume-safe: the curve and the best entry live in extra_state, which
    the checkpoint holds; a ``best.pt`` that does not match them (left by an interrupted segment after the
    last checkpoint, or by an earlier run in the folder) is removed at the first evaluation, and a bit-exact
    resumed run writes it again when it reaches that step.
    """

    def __init__(self, evaluator: "Evaluator", test_data: ImageSet) -> None:
        self.evaluator, self.test_data = evaluator, test_data
        self._checked_best = False

    def on_step(self, trainer: Any) -> None:
        every = trainer.config.metrics_every
        if every and trainer.config.metric_samples >= MIN_METRIC_SAMPLES and trainer.step % every == 0:
            self.evaluate(trainer)

    def on_end(self, trainer: Any) -> None:
        rows = trainer.extra_state.get("quality", [])
        wanted = trainer.config.metrics_every and trainer.config.metric_samples >= MIN_METRIC_SAMPLES
        if wanted and (not rows or rows[-1]["step"] != trainer.step):
            self.evaluate(trainer)  # the curve ends at the final step, and best.pt considers it

    def evaluate(self, trainer: Any) -> dict[str, Any]:
        rows = trainer.extra_state.setdefault("quality", [])
        if rows and rows[-1]["step"] == trainer.step:
            return rows[-1]
        if not self._checked_best:
            _reconcile_best(trainer)
            self._checked_best = True
        scores = self.evaluator.score_model(trainer, self.test_data, trainer.config.metric_samples,
                                            precision_recall=False)
        row = {"step": trainer.step, "fid": scores["fid"], "kid": scores["kid_mean"],
               "is": scores["inception_score_mean"], "samples": scores["fake_samples"], "seconds": scores["seconds"],
               "train_seconds": round(trainer.elapsed, 3)}
        rows.append(row)
        if trainer.history and trainer.history[-1]["step"] == trainer.step:
            # the quality curve also lands in history.csv, beside the losses of the same step
            trainer.history[-1].update({k: row[k] for k in QUALITY_COLUMNS})
        best = trainer.extra_state.get("quality_best")
        if math.isfinite(row["fid"]) and (best is None or not math.isfinite(best["fid"]) or row["fid"] < best["fid"]):
            trainer.extra_state["quality_best"] = {"step": trainer.step, "fid": row["fid"]}
            trainer.save_checkpoint(trainer.out_dir / BEST)
        return row


@contextlib.contextmanager
def private_rng(device: torch.device | str = "cpu") -> Iterator[None]:
    """Run evaluation without touching the training run's random streams (torch's CPU and, on CUDA, the
    device's generator; numpy's and Python's): whatever it draws is undone on exit.

    A resumed run restores every RNG from its checkpoint and must then draw exactly what an uninterrupted run
    draws. Evaluation happens at different points of the two (the classifier is loaded at the first evaluation
    of each process), so anything it drew from a shared stream would make the runs diverge.
    """
    device = torch.device(device)
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    numpy_state, python_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=cuda):
        try:
            yield
        finally:
            np.random.set_state(numpy_state)
            random.setstate(python_state)


class _NoTestData:
    """The hook of a run without a test split: quality is not measured (final() says why)."""

    def on_step(self, trainer: Any) -> None:
        pass

    def on_end(self, trainer: Any) -> None:
        pass


def _reconcile_best(trainer: Any) -> None:
    path = trainer.out_dir / BEST
    if not path.is_file():
        return
    best = trainer.extra_state.get("quality_best")
    step = _checkpoint_step(path)
    if best is None or step != best["step"]:
        path.unlink(missing_ok=True)


def _checkpoint_step(path: Path) -> int | None:
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["step"])
    except Exception:  # unreadable or foreign file: treat as stale
        return None


class Evaluator:
    """What `run.run_config(evaluate=...)` calls: `hook(test_data)` for training, `final(trainer, test_data)`.

    results_root: where classifiers are cached (``<results_root>/classifiers/<dataset>/``).
    final_samples: generated images for the final scores (default: the config's `metric_samples`).
    real_samples: test images used as the reference (default: the whole test split).
    sample_seed: seed of the latent batch; the same z at every evaluation, so the curve is not noisier
    than the model.
    """

    def __init__(self, results_root: str | os.PathLike[str] = "results", *, final_samples: int | None = None,
                 real_samples: int | None = None, sample_seed: int = 1234, metric_seed: int = 0,
                 k: int = DEFAULT_K, reference: bool = True, log: Any = print) -> None:
        self.results_root = Path(results_root)
        self.final_samples, self.real_samples = final_samples, real_samples
        self.sample_seed, self.metric_seed, self.k = sample_seed, metric_seed, k
        self.reference, self.log = reference, log
        self._classifiers: dict[tuple[str, str], FeatureClassifier] = {}
        self._scorers: dict[tuple[str, str, str], QualityScorer] = {}

    def classifier(self, dataset: str, device: torch.device | str = "cpu", data_root: Any = None) -> FeatureClassifier:
        key = (CLASSIFIER_DATA.get(dataset, dataset), str(device))
        if key not in self._classifiers:
            with private_rng(device):  # building the network initialises weights from the global RNG
                self._classifiers[key] = get_classifier(dataset, self.results_root, device=device,
                                                        data_root=data_root, log=self.log)
        return self._classifiers[key]

    def scorer(self, dataset: str, test_data: ImageSet, device: torch.device | str = "cpu",
               data_root: Any = None) -> QualityScorer:
        real = test_data.images if self.real_samples is None else test_data.images[: self.real_samples]
        key = (CLASSIFIER_DATA.get(dataset, dataset), str(device), f"{test_data.meta.get('checksum')}:{len(real)}")
        if key not in self._scorers:
            model = self.classifier(dataset, device, data_root)
            self._scorers[key] = QualityScorer(model, real, k=self.k, seed=self.metric_seed)
        return self._scorers[key]

    def score_model(self, trainer: Any, test_data: ImageSet, n: int, precision_recall: bool = True) -> dict[str, Any]:
        """Scores of `n` samples of the trainer's model (fixed latent seed) against the test split."""
        from .generate import sample

        c = trainer.config
        with private_rng(trainer.device):  # called during training (QualityHook): leave its streams alone
            scorer = self.scorer(c.dataset, test_data, trainer.device, c.data_root)
            fake = sample(trainer.sampler(), n, c.z_dim, seed=self.sample_seed, device=trainer.device)
            return scorer.score(fake.cpu(), precision_recall_=precision_recall)

    def hook(self, test_data: ImageSet | None) -> QualityHook | _NoTestData:
        return _NoTestData() if test_data is None else QualityHook(self, test_data)

    def final(self, trainer: Any, test_data: ImageSet | None) -> dict[str, Any]:
        """The quality section of metrics.json (and, for a VAE, the test-split reconstruction)."""
        c = trainer.config
        if test_data is None:
            return {"quality": None, "reason": f"no test split of {c.dataset} could be loaded, so sample "
                                               "quality was not measured (see meta.json data warnings)"}
        n = self.final_samples or c.metric_samples
        if n < MIN_METRIC_SAMPLES:
            return {"quality": None, "reason": f"metric_samples={n}: quality metrics were turned off (0) or too few "
                                               f"to score (fewer than {MIN_METRIC_SAMPLES})"}
        scores = self.score_model(trainer, test_data, n)
        quality = {
            "fid": scores["fid"], "kid_mean": scores["kid_mean"], "kid_std": scores["kid_std"],
            "inception_score_mean": scores["inception_score_mean"],
            "inception_score_std": scores["inception_score_std"],
            "precision": scores["precision"], "recall": scores["recall"],
            "density": scores["density"], "coverage": scores["coverage"], "k": scores["k"],
            "fake_samples": scores["fake_samples"], "real_samples": scores["real_samples"],
            "pr_real_samples": scores["pr_real_samples"], "kid_subset_size": scores["kid_subset_size"],
            "is_splits": scores["is_splits"], "sample_seed": self.sample_seed,
            "reference": f"{test_data.meta.get('reference', 'test split')}, {scores['real_samples']} images",
        }
        model = self.classifier(c.dataset, trainer.device, c.data_root)
        out: dict[str, Any] = {
            "quality": quality,
            "classifier": summary(model),
            "quality_curve": list(trainer.extra_state.get("quality", [])),
            "best": self._best(trainer, quality["fid"]),
        }
        if self.reference:
            try:
                # real halves as large as the fake set (at most half the split): the floor at this sample count
                ref = reference_scores(c.dataset, self.results_root, n=n, data_root=c.data_root, classifier=model)
                out["real_reference"] = {k: ref[k] for k in ("inception_score_test", "fid_halves", "kid_halves",
                                                             "precision_halves", "recall_halves", "half_images", "text")}
            except Exception as err:  # the reference is a convenience for the report, never a reason to fail a run
                out["real_reference"] = {"error": f"{type(err).__name__}: {err}"}
        if model_spec(c.model).reconstructs:
            out["test_reconstruction"] = test_reconstruction(trainer.model, test_data, trainer.device, seed=self.metric_seed)
        return out

    @staticmethod
    def _best(trainer: Any, final_fid: float) -> dict[str, Any]:
        best = trainer.extra_state.get("quality_best")
        if best is None:  # no evaluation during training: the final model is the only candidate
            return {"step": trainer.step, "fid": final_fid, "checkpoint": None}
        path = trainer.out_dir / BEST
        ok = path.is_file() and _checkpoint_step(path) == best["step"]
        return {"step": best["step"], "fid": best["fid"], "checkpoint": BEST if ok else None}


def default_evaluator(config: Any = None, results_root: str | os.PathLike[str] = "results",
                      **options: Any) -> Evaluator | None:
    """The evaluator that notebooks, the CLI and the sweep pass to `run_config(evaluate=...)`.

    None (no quality metrics) when the config asks for ``metric_samples=0``. `options` go to `Evaluator`.
    """
    if config is not None and getattr(config, "metric_samples", 1) == 0:
        return None
    return Evaluator(results_root, **options)


__all__ = ["ClassifierFeatures", "QualityScorer", "evaluate_images", "inception_score", "precision_recall",
           "reference_scores", "test_reconstruction", "Evaluator", "QualityHook", "default_evaluator", "private_rng"]
