"""Evaluation of a model while and after it trains: what `run.run_config(evaluate=...)` calls.

`Evaluator` / `default_evaluator` give a training hook (`QualityHook`: the quality curve every `metrics_every`
steps and the best-by-FID checkpoint ``best.pt``) and the final quality section of ``metrics.json`` (scores,
classifier, curve, best step, real-data reference and, for a model that reconstructs, the test-split
reconstruction). The scores themselves come from `genmodels.quality.metrics`, which knows nothing about training; this
module owns what training adds: a private random state (so a resumed run stays bit-exact), stale ``best.pt``
files and the metrics.json layout.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genmodels.quality.classifier import CLASSIFIER_DATA, FeatureClassifier, get_classifier, summary
from genmodels.core.config import MIN_METRIC_SAMPLES
from genmodels.data import ImageSet
from genmodels.training.generate import in_eval_mode
from genmodels.quality.metrics import DEFAULT_K, QualityScorer, reference_scores
from genmodels.core.registry import model_spec
from genmodels.core.store import BEST, DEFAULT_ROOT
from genmodels.training.hooks import QUALITY_COLUMNS


# ---------------------------------------------------------------------------------------------- reconstruction
@torch.no_grad()
def reconstruction_scores(model: nn.Module, test_data: ImageSet, device: torch.device | str = "cpu",
                          batch: int = 500, seed: int = 0, max_images: int | None = None) -> dict[str, Any]:
    """VAE on the test split: `mse` of the posterior-mean reconstruction, and the model's own loss terms
    (`rec`, `kl`, `loss`, with a sampled z as in training), averaged over images."""
    n = min(len(test_data), max_images or len(test_data))
    sums = {"mse": 0.0, "rec": 0.0, "kl": 0.0, "loss": 0.0}
    with in_eval_mode(model), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for start in range(0, n, batch):
            x = test_data.batch(slice(start, min(n, start + batch)), device)
            size = x.shape[0]
            sums["mse"] += F.mse_loss(model.reconstruct(x).float(), x).item() * size
            terms = model(x)
            for name in ("rec", "kl", "loss"):
                sums[name] += float(terms[name]) * size
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
        history = trainer.history  # reads the pending loss terms: a diverged run stops here, before it is scored
        if not self._checked_best:
            _reconcile_best(trainer)
            self._checked_best = True
        scores = self.evaluator.score_model(trainer, self.test_data, trainer.config.metric_samples,
                                            precision_recall=False)
        row = {"step": trainer.step, "fid": scores["fid"], "kid": scores["kid_mean"],
               "is": scores["inception_score_mean"], "samples": scores["fake_samples"], "seconds": scores["seconds"],
               "train_seconds": round(trainer.elapsed, 3),
               "train_cpu_seconds": None if trainer.cpu_elapsed is None else round(trainer.cpu_elapsed, 3)}
        rows.append(row)
        if history and history[-1]["step"] == trainer.step:
            # the quality curve also lands in history.csv, beside the losses of the same step
            history[-1].update({k: row[k] for k in QUALITY_COLUMNS})
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

    def __init__(self, results_root: str | os.PathLike[str] = DEFAULT_ROOT, *, final_samples: int | None = None,
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
        from genmodels.training.generate import sample

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
            out["test_reconstruction"] = reconstruction_scores(trainer.model, test_data, trainer.device,
                                                               seed=self.metric_seed)
        return out

    @staticmethod
    def _best(trainer: Any, final_fid: float) -> dict[str, Any]:
        best = trainer.extra_state.get("quality_best")
        if best is None:  # no evaluation during training: the final model is the only candidate
            return {"step": trainer.step, "fid": final_fid, "checkpoint": None}
        path = trainer.out_dir / BEST
        ok = path.is_file() and _checkpoint_step(path) == best["step"]
        return {"step": best["step"], "fid": best["fid"], "checkpoint": BEST if ok else None}


def default_evaluator(config: Any = None, results_root: str | os.PathLike[str] = DEFAULT_ROOT,
                      **options: Any) -> Evaluator | None:
    """The evaluator that notebooks, the CLI and the sweep pass to `run_config(evaluate=...)`.

    None (no quality metrics) when the config asks for ``metric_samples=0``. `options` go to `Evaluator`.
    """
    if config is not None and getattr(config, "metric_samples", 1) == 0:
        return None
    return Evaluator(results_root, **options)


__all__ = ["reconstruction_scores", "Evaluator", "QualityHook", "default_evaluator", "private_rng"]
