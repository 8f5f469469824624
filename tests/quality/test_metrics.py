"""Quality metrics checked against facts known without any generative model.

Acceptance facts (SPEC "Quality measurement"), on the real MNIST test set and the MNIST classifier trained
once per session with the production settings:
- the classifier reaches >= 98 % on the official test set (the spec's plain 4-conv CNN: 98.3 %);
- the real test set's Inception Score lies in [max(9.4, Fano floor), 10], where the Fano floor is what the
  measured accuracy implies for a calibrated (or over-confident) classifier -- see `fano_floor`;
- FID of two disjoint real halves is small next to any corrupted set; FID grows monotonically with Gaussian
  noise and with blur; shuffled pixels score far worse than real images;
- a collapsed generator (one image repeated) has IS < 1.2 and recall 0; real vs real precision/recall > 0.7.
Precision/recall are also checked on synthetic point clouds with known answers.

The classifier is trained on the machine running the tests, so its digits differ between machines: every bound
lives in metric_facts.BOUNDS beside the range it measured over classifiers trained from four seeds, on the official
reference and on the held-out 1,000 (bench/metric_margins.py measures them again).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from genmodels.quality.classifier import (ClassifierError, FeatureClassifier, TrainSettings, classifier_dir, get_classifier,
                                  random_affine, random_shift)
from genmodels.quality.evaluation import Evaluator, default_evaluator

import metric_facts as facts
from genmodels.quality.metrics import (ClassifierFeatures, QualityScorer, evaluate_images, inception_score, precision_recall,
                               reference_scores)

def _reference_size() -> int:
    import warnings

    from genmodels.data import load_dataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return len(load_dataset("mnist", "test"))


# the MNIST reference: the official test set (10,000 images) where found, else the 5k subset's held-out 1,000
REFERENCE_IMAGES = _reference_size()
N = facts.half_size(REFERENCE_IMAGES)  # images per set in the MNIST checks: two disjoint halves of the reference
REFERENCE_SPLITS = facts.reference_splits(REFERENCE_IMAGES)
HALF_SPLITS = facts.half_splits(REFERENCE_IMAGES)


def check(measured: dict, *names: str) -> None:
    """Each named statistic within its bound (metric_facts.BOUNDS, with the spread measured over seeds)."""
    for name in names:
        bound = facts.BOUNDS[name]
        op, limit = bound.resolve(REFERENCE_IMAGES)
        assert bound.holds(measured[name], REFERENCE_IMAGES), f"{name} = {measured[name]:.4g}, bound {op} {limit:g} ({bound.spread})"


# ---------------------------------------------------------------------------------------------- helpers
def fano_floor(accuracy: float, label_entropy: float = math.log(10), classes: int = 10) -> float:
    """The lowest IS a calibrated classifier with this accuracy can give on balanced real data.

    IS = exp(H(y) - E_x H(p(y|x))). For a calibrated classifier E_x H(p(y|x)) = H(Y | p(X)), and Fano's
    inequality bounds it by h(e) + e ln(K-1) with e = 1 - accuracy; over-confidence only raises IS.
    At 98.3 % this gives 8.8, at 99 % 9.2 (the spec measured 9.57 and 9.88).
    """
    e = 1.0 - accuracy
    h = -(e * math.log(e) + (1 - e) * math.log(1 - e)) if 0 < e < 1 else 0.0
    return math.exp(label_entropy - h - e * math.log(classes - 1))


def brute_force_pr(real: torch.Tensor, fake: torch.Tensor, k: int) -> tuple[float, float]:
    """Kynkäänniemi et al. 2019, written out with torch.cdist: the reference for the prdc-based version."""
    def radii(x: torch.Tensor) -> torch.Tensor:
        d = torch.cdist(x, x)
        return d.kthvalue(k + 1, dim=1).values  # the 0th neighbour is the point itself

    d = torch.cdist(real, fake)  # (R, F)
    precision = (d < radii(real)[:, None]).any(dim=0).double().mean()
    recall = (d < radii(fake)[None, :]).any(dim=1).double().mean()
    return float(precision), float(recall)


# ---------------------------------------------------------------------------------------------- precision / recall
def test_precision_recall_known_small_case() -> None:
    # real points 0..9 on a line, k=1: every real radius is 1. Fake {0.5, 100, 200}: only 0.5 lies in the
    # real manifold -> precision 1/3. Fake radii are 99.5, 100, 100, so every real point is covered -> recall 1.
    real = torch.arange(10, dtype=torch.float32)[:, None]
    fake = torch.tensor([[0.5], [100.0], [200.0]])
    out = precision_recall(real, fake, k=1)
    assert out["precision"] == pytest.approx(1 / 3)
    assert out["recall"] == pytest.approx(1.0)
    # and with the fake set shifted to 0.5 + 10 .. : nothing real is near it, nothing fake near real
    out = precision_recall(real, real + 10.5, k=1)
    assert out["precision"] == pytest.approx(0.0) and out["recall"] == pytest.approx(0.0)


def test_precision_recall_disjoint_and_identical_clouds() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(1000, 8, generator=g)
    far = torch.randn(1000, 8, generator=g) + 50.0
    out = precision_recall(a, far, k=3)
    assert out["precision"] == 0.0 and out["recall"] == 0.0
    same = precision_recall(a, torch.randn(1000, 8, generator=g), k=3)
    assert same["precision"] > 0.85 and same["recall"] > 0.85


def test_precision_recall_mode_dropping_and_collapse() -> None:
    g = torch.Generator().manual_seed(1)
    centres = torch.tensor([[-20.0, 0.0], [20.0, 0.0]])
    real = torch.randn(2000, 2, generator=g) + centres[torch.arange(2000) % 2]
    one_mode = torch.randn(1000, 2, generator=g) + centres[0]
    out = precision_recall(real, one_mode, k=3)
    assert out["precision"] > 0.9  # every fake sample is realistic ...
    assert 0.4 < out["recall"] < 0.55  # ... but only half the real data is covered
    collapsed = precision_recall(real, centres[:1].repeat(500, 1), k=3)
    assert collapsed["precision"] == 1.0 and collapsed["recall"] == 0.0


def test_precision_recall_matches_brute_force() -> None:
    g = torch.Generator().manual_seed(2)
    real = torch.randn(600, 16, generator=g)
    fake = 0.7 * torch.randn(500, 16, generator=g) + 0.3
    out = precision_recall(real, fake, k=3)
    p, r = brute_force_pr(real, fake, 3)
    assert out["precision"] == pytest.approx(p, abs=1e-9)
    assert out["recall"] == pytest.approx(r, abs=1e-9)
    assert 0 < out["precision"] < 1 and 0 < out["recall"] < 1


# ---------------------------------------------------------------------------------------------- parts without data
def test_torchmetrics_uses_num_features_instead_of_probing() -> None:
    from torchmetrics.image.fid import FrechetInceptionDistance

    model = FeatureClassifier().eval()
    adapter = ClassifierFeatures(model, "features")
    assert adapter.num_features == 128
    calls = []
    adapter.register_forward_hook(lambda *args: calls.append(args))
    FrechetInceptionDistance(feature=adapter)  # a 299x299 RGB probe would crash the 32x32 classifier
    assert calls == []
    adapter.train()
    assert not adapter.training and not model.training


def test_adapter_accepts_uint8_and_floats() -> None:
    torch.manual_seed(0)
    model = FeatureClassifier().eval()
    u8 = torch.randint(0, 256, (4, 1, 32, 32), dtype=torch.uint8)
    as_float = u8.float() / 127.5 - 1
    features, logits = ClassifierFeatures(model, "features"), ClassifierFeatures(model, "logits")
    assert torch.allclose(features(u8), features(as_float), atol=1e-5)
    assert logits(u8).shape == (4, 10)


def test_random_shift_moves_whole_pixels_and_fills_background() -> None:
    x = torch.full((64, 1, 32, 32), -1.0)
    x[:, :, 16, 16] = 1.0
    out = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert ((out == 1.0).sum(dim=(1, 2, 3)) == 1).all()  # exact integer shift: the pixel survives unblurred
    ys, xs = torch.nonzero(out[:, 0] == 1.0)[:, 1], torch.nonzero(out[:, 0] == 1.0)[:, 2]
    assert (ys - 16).abs().max() <= 2 and (xs - 16).abs().max() <= 2
    assert len(set(zip(ys.tolist(), xs.tolist()))) > 10  # offsets really vary per image
    assert set(out.unique().tolist()) == {-1.0, 1.0}
    blank = random_affine(torch.full((8, 1, 32, 32), -1.0), 10, 0.1, torch.Generator().manual_seed(0))
    assert torch.allclose(blank, torch.full_like(blank, -1.0), atol=1e-6)  # padding is background, not grey


# ---------------------------------------------------------------------------------------------- MNIST session fixtures
@pytest.fixture(scope="session")
def classifier_root() -> Path:
    """The shared test classifier cache (conftest.classifier_cache): trained once, reused by later sessions."""
    from conftest import classifier_cache

    return classifier_cache()


@pytest.fixture(scope="session")
def mnist_classifier(classifier_root: Path) -> FeatureClassifier:
    return get_classifier("mnist", classifier_root, log=None)


@pytest.fixture(scope="session")
def mnist_test() -> torch.Tensor:
    from genmodels.data import load_dataset

    return load_dataset("mnist", "test")


@pytest.fixture(scope="session")
def halves(mnist_test) -> tuple[torch.Tensor, torch.Tensor]:
    """Two disjoint random halves of N test images each, as floats in [-1, 1]."""
    return facts.halves(mnist_test)


@pytest.fixture(scope="session")
def measured(mnist_classifier, mnist_test) -> dict:
    """Every bounded statistic (metric_facts.measure): real halves, corruptions, a collapsed and a shuffled set."""
    out = facts.measure(mnist_classifier, mnist_test)
    print(f"\nMNIST facts ({REFERENCE_IMAGES} reference images, {N} per half): {out}")
    return out


@pytest.fixture(scope="session")
def real_scores(mnist_classifier, halves) -> dict:
    return QualityScorer(mnist_classifier, halves[0], is_splits=HALF_SPLITS).score(halves[1])


# ---------------------------------------------------------------------------------------------- MNIST acceptance
@pytest.mark.slow
def test_classifier_accuracy_and_cache(mnist_classifier, classifier_root) -> None:
    meta = mnist_classifier.meta
    check(meta, "accuracy")
    assert meta["test_images"] == REFERENCE_IMAGES
    assert meta["train_images"] in (4_000, 60_000)
    assert meta["trained_on_mnist_5k_fallback"] == (meta["train_images"] == 4_000)
    folder = classifier_dir("mnist", classifier_root)
    stored = json.loads((folder / "classifier.json").read_text())
    assert stored["hash"] == meta["hash"] and len(meta["hash"]) == 64
    again = get_classifier("mnist-5k", classifier_root, log=pytest.fail)  # cached: loads, never trains
    assert again.meta["hash"] == meta["hash"]
    x = torch.zeros(2, 1, 32, 32)
    assert torch.equal(again.features(x), mnist_classifier.features(x))


@pytest.mark.slow
def test_real_test_set_inception_score(mnist_classifier, mnist_test, measured) -> None:
    accuracy = mnist_classifier.meta["accuracy"]
    labels = torch.bincount(mnist_test.labels, minlength=10).float() / len(mnist_test)
    label_entropy = float(-(labels * labels.log()).sum())
    mean, std = measured["is_reference"], measured["is_reference_std"]
    print(f"\nMNIST reference ({len(mnist_test)} images): IS {mean:.3f} ± {std:.3f} at accuracy {accuracy:.4f}; "
          f"Fano floor {fano_floor(accuracy, label_entropy):.2f}")
    check(measured, "is_reference")
    assert fano_floor(accuracy, label_entropy) <= mean <= 10.0
    if REFERENCE_SPLITS > 1:
        check(measured, "is_reference_std")
    # torchmetrics' IS (one split) is exp(H(mean p) - mean H(p)) of the softmax of the logits
    _, logits = mnist_classifier.extract(mnist_test.images)
    p = logits.softmax(1)
    direct = math.exp(float(-(p.mean(0) * p.mean(0).log()).sum() + (p * p.clamp_min(1e-30).log()).sum(1).mean()))
    assert inception_score(mnist_test.images, mnist_classifier, splits=1)[0] == pytest.approx(direct, rel=1e-4)


@pytest.mark.slow
def test_real_halves_score_as_real(real_scores, measured) -> None:
    assert real_scores["fake_samples"] == N and real_scores["real_samples"] == N
    check(measured, "halves_precision", "halves_recall", "halves_kid_in_std", "halves_is")


@pytest.mark.slow
def test_fid_grows_with_noise_and_blur(measured) -> None:
    """FID rises monotonically with Gaussian noise and with blur, and the mildest corruption is clearly above the
    split-half FID (the estimator's floor at N images a side), by several of that floor's standard deviations."""
    assert measured["noise_monotone"] and measured["blur_monotone"], (measured["noise_fids"], measured["blur_fids"])
    check(measured, "corruption_above_floor_in_std")


@pytest.mark.slow
def test_collapsed_and_shuffled_generators(measured) -> None:
    check(measured, "collapsed_is", "collapsed_recall", "shuffled_fid_over_floor", "shuffled_density", "shuffled_is_drop")


@pytest.mark.slow
def test_evaluate_images_matches_scorer(mnist_classifier, halves, real_scores) -> None:
    out = evaluate_images(halves[1], halves[0], mnist_classifier, is_splits=HALF_SPLITS)
    for key in ("fid", "kid_mean", "inception_score_mean", "precision", "recall"):
        assert out[key] == pytest.approx(real_scores[key], rel=1e-6, abs=1e-9), key


# ---------------------------------------------------------------------------------------------- runs
@pytest.mark.slow
def test_evaluator_hook_curve_best_checkpoint_and_resume(mnist_classifier, classifier_root, tmp_path) -> None:
    from genmodels.core.config import RunConfig
    from genmodels.runs.run import run_config

    config = RunConfig(model="gan", dataset="mnist-5k", n_train=256, depth=2, width=8, z_dim=8, batch_size=32,
                       steps=4, metrics_every=2, metric_samples=200, sample_every=0, checkpoint_every=2,
                       progress=False)
    evaluator = default_evaluator(config, classifier_root, reference=False)
    assert isinstance(evaluator, Evaluator)
    out = tmp_path / "run"
    result = run_config(config, out, evaluate=evaluator)
    metrics = json.loads((out / "metrics.json").read_text())
    assert [row["step"] for row in metrics["quality_curve"]] == [2, 4]
    q = metrics["quality"]
    reference = "official MNIST test set" if REFERENCE_IMAGES == 10_000 else "mnist-5k held-out split"
    assert q["fake_samples"] == 200 and q["real_samples"] == REFERENCE_IMAGES
    assert q["reference"] == f"{reference}, {REFERENCE_IMAGES} images"
    for key in ("fid", "kid_mean", "kid_std", "inception_score_mean", "inception_score_std", "precision", "recall"):
        assert math.isfinite(q[key]), key
    assert metrics["classifier"]["hash"] == mnist_classifier.meta["hash"]
    best = metrics["best"]
    assert best["fid"] == min(row["fid"] for row in metrics["quality_curve"])
    assert best["checkpoint"] == "best.pt"
    assert torch.load(out / "best.pt", weights_only=True)["step"] == best["step"]
    assert result.trainer.extra_state["quality_best"]["step"] == best["step"]
    # the curve's last point and the final scores come from the same samples
    assert metrics["quality_curve"][-1]["fid"] == pytest.approx(q["fid"], rel=1e-6)

    # resume to 6 steps: the curve continues without repeating steps; a stale best.pt is replaced or removed
    torch.save({"step": 999}, out / "best.pt")
    resumed = RunConfig(**{**config.to_dict(), "steps": 6})
    run_config(resumed, out, resume=True, evaluate=default_evaluator(resumed, classifier_root, reference=False))
    metrics = json.loads((out / "metrics.json").read_text())
    assert [row["step"] for row in metrics["quality_curve"]] == [2, 4, 6]
    best_pt = out / "best.pt"
    if metrics["best"]["checkpoint"]:
        assert torch.load(best_pt, weights_only=True)["step"] == metrics["best"]["step"]
    else:
        assert not best_pt.exists()


@pytest.mark.slow
def test_resume_with_metrics_on_is_bit_exact(mnist_classifier, classifier_root, tmp_path) -> None:
    """Killed after a checkpoint and resumed in a fresh evaluator (as a new process would be), a run that measures
    quality during training ends exactly as an uninterrupted one: loading the classifier, scoring and saving
    best.pt draw nothing from the training RNG streams. Before, the resumed segment loaded the classifier at its
    first evaluation, whose initialisation drew from torch's global RNG, and every later step diverged."""
    from same_run import CrashAt, assert_same_run, without_seconds

    from genmodels.core.config import MIN_METRIC_SAMPLES, RunConfig
    from genmodels.data import load_dataset
    from genmodels.training.loop import CHECKPOINT, train

    config = RunConfig(model="gan", dataset="mnist-5k", n_train=128, depth=1, width=8, z_dim=8, batch_size=8,
                       steps=10, metrics_every=2, metric_samples=MIN_METRIC_SAMPLES, sample_every=0,
                       checkpoint_every=4, progress=False)
    data, test = load_dataset("mnist-5k", "train"), load_dataset("mnist-5k", "test")

    def hooks() -> list:
        return [Evaluator(classifier_root, real_samples=500, reference=False, log=None).hook(test)]

    full = train(config, tmp_path / "a", train_data=data, hooks=hooks())
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "b", train_data=data, hooks=[*hooks(), CrashAt(5)])
    assert torch.load(tmp_path / "b" / CHECKPOINT, weights_only=True)["step"] == 4
    resumed = train(config, tmp_path / "b", train_data=data, hooks=hooks())  # first evaluation after resume: step 6
    assert_same_run(full, resumed)
    curve = lambda t: [{k: v for k, v in row.items() if "seconds" not in k} for row in t.extra_state["quality"]]
    assert [row["step"] for row in curve(full)] == [2, 4, 6, 8, 10]
    assert curve(full) == curve(resumed)
    assert without_seconds(full.history) == without_seconds(resumed.history)


@pytest.mark.slow
def test_vae_final_metrics_include_test_reconstruction(classifier_root, tmp_path) -> None:
    from genmodels.core.config import RunConfig
    from genmodels.runs.run import run_config

    config = RunConfig(model="vae", dataset="mnist-5k", n_train=256, depth=2, width=8, z_dim=8, batch_size=32,
                       steps=3, metric_samples=100, sample_every=0, checkpoint_every=0, progress=False)
    result = run_config(config, tmp_path / "vae", evaluate=default_evaluator(config, classifier_root, reference=False))
    rec = result.metrics["test_reconstruction"]
    assert rec["images"] == REFERENCE_IMAGES
    assert rec["mse"] > 0 and rec["rec"] > 0 and rec["kl"] >= 0
    assert result.metrics["best"] == {"step": 3, "fid": result.metrics["quality"]["fid"], "checkpoint": None}
    assert result.metrics["quality_curve"] == []
    assert not (tmp_path / "vae" / "best.pt").exists()


def test_without_test_split_or_samples() -> None:
    from genmodels.core.config import RunConfig

    evaluator = Evaluator("unused")
    trainer = SimpleNamespace(config=RunConfig(), extra_state={})
    out = evaluator.final(trainer, None)
    assert out["quality"] is None and "test split" in out["reason"]
    hook = evaluator.hook(None)
    hook.on_step(trainer), hook.on_end(trainer)
    assert default_evaluator(RunConfig(metric_samples=0)) is None


@pytest.mark.slow
def test_reference_scores_cached_with_classifier(mnist_classifier, classifier_root) -> None:
    ref = reference_scores("mnist", classifier_root, n=N, classifier=mnist_classifier)
    print("\n" + ref["text"])
    assert ref["half_images"] == N and ref["test_images"] == REFERENCE_IMAGES
    check({"is_reference": ref["inception_score_test"]["mean"], "fid_halves": ref["fid_halves"]},
          "is_reference", "fid_halves")
    assert ref["fid_halves"] >= 0
    path = classifier_dir("mnist", classifier_root) / "reference.json"
    assert json.loads(path.read_text())["classifier_hash"] == mnist_classifier.meta["hash"]
    assert reference_scores("mnist", classifier_root, n=N, classifier=mnist_classifier) == ref


@pytest.mark.slow
def test_classifier_cache_detects_tampering(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("GENMODELS_CLASSIFIERS", raising=False)  # never tamper with a shared cache
    settings = TrainSettings(epochs=1, max_train_images=512, batch_size=64)
    model = get_classifier("mnist-5k", tmp_path, settings=settings, log=None)
    folder = tmp_path / "classifiers" / "mnist"
    meta = json.loads((folder / "classifier.json").read_text())
    assert meta["train_images"] == 512 and meta["hash"] == model.meta["hash"]
    assert (folder / meta["weights"]).is_file()
    with open(folder / meta["weights"], "ab") as f:
        f.write(b"tampered")
    with pytest.raises(ClassifierError, match="sha256"):
        get_classifier("mnist", tmp_path, log=None)


def test_two_callers_wanting_one_classifier_at_once_train_it_once(tmp_path, monkeypatch) -> None:
    """Two test workers (or sweep workers) asking for a classifier nobody has cached yet: the cache's lock lets one
    train it while the other waits, then loads what the first wrote. Threads stand in for the processes: each
    call opens its own lock file, and flock excludes two open files in one process as in two."""
    import threading

    monkeypatch.delenv("GENMODELS_CLASSIFIERS", raising=False)  # a fresh cache, not the session's
    settings = TrainSettings(epochs=1, max_train_images=256, batch_size=64)
    trained, hashes, errors = [], [], []

    def want() -> None:
        try:
            model = get_classifier("mnist-5k", tmp_path, settings=settings, log=trained.append)
            hashes.append(model.meta["hash"])
        except BaseException as err:  # noqa: BLE001  (reported below, in the test's thread)
            errors.append(err)

    callers = [threading.Thread(target=want) for _ in range(2)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=300)
    assert not errors, errors
    assert len([line for line in trained if line.startswith("training the mnist feature classifier")]) == 1, trained
    assert len(hashes) == 2 and hashes[0] == hashes[1]


@pytest.mark.slow
def test_run_with_the_official_files_hidden_is_scored_on_the_held_out_split(tmp_path, monkeypatch) -> None:
    """A fresh machine offline, no $GENMODELS_IMPORT, no system copy: a run still gets quality metrics, measured on
    the 5k subset's held-out 1,000 images, and meta.json, metrics.json and the classifier say so."""
    from genmodels.data import files as data_files
    from genmodels.core.config import RunConfig
    from genmodels.runs.run import run_config

    empty = tmp_path / "no-imports"
    empty.mkdir()
    monkeypatch.setenv("GENMODELS_IMPORT", str(empty))
    monkeypatch.setenv("GENMODELS_OFFLINE", "1")
    monkeypatch.delenv("GENMODELS_CLASSIFIERS", raising=False)
    monkeypatch.setattr(data_files, "SYSTEM_DATA_DIRS", [])
    root, results = tmp_path / "data", tmp_path / "results"
    # a quick classifier, cached where the evaluator looks (the run would otherwise train the full one)
    get_classifier("mnist", results, data_root=root, settings=TrainSettings(epochs=1, max_train_images=512), log=None)
    config = RunConfig(model="gan", dataset="mnist", data_root=str(root), n_train=256, depth=2, width=8, z_dim=8,
                       batch_size=32, steps=3, metric_samples=200, sample_every=0, checkpoint_every=0, progress=False)
    with pytest.warns(UserWarning, match="falling back"):
        result = run_config(config, tmp_path / "run", evaluate=default_evaluator(config, results, reference=False))
    quality = result.metrics["quality"]
    assert quality is not None and math.isfinite(quality["fid"]) and math.isfinite(quality["precision"])
    assert quality["reference"] == "mnist-5k held-out split, 1000 images" and quality["real_samples"] == 1000
    assert result.metrics["classifier"]["reference"] == "mnist-5k held-out split"
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert meta["data"]["test"]["reference"] == "mnist-5k held-out split" and meta["data"]["test"]["images"] == 1000
    assert meta["data"]["train"]["images"] == 4000 and meta["data"]["train"]["fallback"]
