"""A small CNN trained on each data set, used as the feature extractor of the quality metrics.

Inception-v3 features are meaningless on 32x32 digits (and its weights cannot be downloaded here), so,
as is common practice for MNIST, FID/KID/IS/precision/recall use a classifier trained on the data set
itself (SPEC "Quality measurement"). It is trained once per data set on the training split with random
shifts of up to 2 pixels (for MNIST also small rotations and zooms), all done on tensors, evaluated on the
test split, and cached under ``<results>/classifiers/<name>/`` (or ``$GENMODELS_CLASSIFIERS/<name>/``):

- ``weights-<hash12>.pt`` -- the state dict; the file name carries the first 12 hex digits of its sha256,
  so a weights file never changes once written;
- ``classifier.json`` -- accuracy, image counts, data source, training settings and the full sha256,
  written last and atomically: a folder without it holds no finished classifier.

A cached classifier is reused after its weights' hash is checked. Concurrent callers (sweep workers)
serialise on a lock file, so the classifier is trained once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genmodels.core import registry, store
from genmodels.core.files import check_writable_dir, sha256_file
from genmodels.data import ImageSet, load_dataset

METADATA = "classifier.json"
# data set -> the classifier scoring its runs (`registry.DatasetSpec.classifier`). Runs on mnist-5k are scored
# with the MNIST classifier: both use the same reference (the official MNIST test set where found, else the 5k
# subset's held-out part), so their metric values stay comparable, and the classifier is trained once, not twice.
CLASSIFIER_DATA = registry.CLASSIFIER_DATA
CLASSES = 10


class ClassifierError(RuntimeError):
    """A cached classifier is damaged (hash mismatch, unreadable metadata) or cannot be trained."""


# ---------------------------------------------------------------------------------------------- model
def _conv(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class FeatureClassifier(nn.Module):
    """4 x [conv3x3 -> BN -> ReLU] with max-pooling, a fixed-size feature layer, a linear head over 10 classes.

    Input: floats in [-1, 1], (B, C, 32, 32). `features` gives the penultimate activations (B, feature_dim)
    that FID, KID and precision/recall compare; `logits` (B, 10) feed the Inception Score. Pooling right
    after the first conv keeps the expensive 32x32 stage to one thin layer (the whole net trains on a CPU
    in about a minute per 75k images seen).
    """

    def __init__(self, channels: int = 1, width: int = 16, feature_dim: int = 128, dropout: float = 0.3) -> None:
        super().__init__()
        self.config = {"channels": channels, "width": width, "feature_dim": feature_dim, "dropout": dropout}
        self.channels, self.feature_dim = channels, feature_dim
        w = width
        self.body = nn.Sequential(
            *_conv(channels, w), nn.MaxPool2d(2),  # (B, w, 16, 16)
            *_conv(w, 2 * w), *_conv(2 * w, 2 * w), nn.MaxPool2d(2),  # (B, 2w, 8, 8)
            *_conv(2 * w, 4 * w), nn.MaxPool2d(2),  # (B, 4w, 4, 4)
            nn.Flatten(),
        )
        self.embed = nn.Sequential(  # the feature layer: (B, 4w * 16) -> (B, feature_dim)
            nn.Linear(4 * w * 4 * 4, feature_dim, bias=False), nn.BatchNorm1d(feature_dim), nn.ReLU(inplace=True)
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(feature_dim, CLASSES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations (B, feature_dim) of images in [-1, 1] (B, C, 32, 32)."""
        return self.embed(self.body(x))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, 10); softmax gives p(y|x)."""
        return self.head(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.features(x)))

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features(x)
        return f, self.head(f)

    @torch.no_grad()
    def extract(self, images: torch.Tensor, batch: int = 500,
                device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Features and logits of many images (uint8 or floats in [-1, 1]) in eval mode, batched; on CPU."""
        device = device or next(self.parameters()).device
        was_training = self.training
        self.eval()
        try:
            feats, logits = [], []
            for part in images.split(batch):
                f, lg = self.features_and_logits(as_float(part).to(device))
                feats.append(f.float().cpu())
                logits.append(lg.float().cpu())
            return torch.cat(feats), torch.cat(logits)
        finally:
            self.train(was_training)


def as_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images in [0, 255] -> floats in [-1, 1]; float images pass through."""
    if images.dtype == torch.uint8:
        return images.float().div(127.5).sub(1.0)
    return images.float()


# ---------------------------------------------------------------------------------------------- training
@dataclass
class TrainSettings:
    """How a classifier is trained. `shift` is the largest random translation in pixels."""

    epochs: int = 15
    batch_size: int = 128
    lr: float = 1e-2
    weight_decay: float = 5e-4
    shift: int = 2
    rotate: float = 0.0  # largest random rotation in degrees (0 = shifts only)
    scale: float = 0.0  # largest relative random zoom (0.1 = 0.9x to 1.1x)
    width: int = 16
    feature_dim: int = 128
    dropout: float = 0.3
    seed: int = 0
    max_train_images: int | None = None  # subsample large training splits (e.g. 60k Fashion-MNIST)


# Measured on this project's 2-core machine (single runs): on the 5k MNIST subset, shifts alone reach
# 98.9-99.1 % on the official test set after 15 epochs, adding small rotations and zooms 99.0-99.2 %, and
# 30 epochs gain nothing more (99.2 %); elastic distortions did worse. Training takes about a minute.
# Fashion-MNIST over the 60k images, two threads: 2 epochs 91.1 % in 45 s, 3 epochs 91.9 % in 66 s, 4 epochs 92.05 %
# in 83 s; 3 it is, the fourth epoch's 0.1 point not being worth its 17 s in the main job.
DEFAULT_SETTINGS = {
    "mnist": TrainSettings(epochs=15, rotate=10.0, scale=0.1),
    # 60k images: one epoch is 12 MNIST-5k epochs; garments are upright, so shifts only
    "fashion-mnist": TrainSettings(epochs=3),
    "cifar10": TrainSettings(epochs=20, width=32, shift=3),
}


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by an integer offset in [-max_shift, max_shift]^2, filling with background (-1).

    Done by padding and cropping with per-image offsets gathered through one index tensor: exact integer
    shifts, no interpolation, no PIL.
    """
    if max_shift <= 0:
        return x
    b, c, h, w = x.shape
    p = max_shift
    padded = F.pad(x, (p, p, p, p), value=-1.0)  # (B, C, H+2p, W+2p)
    dy = torch.randint(0, 2 * p + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * p + 1, (b,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None, :]).to(x.device)  # (B, H)
    cols = (dx[:, None] + torch.arange(w)[None, :]).to(x.device)  # (B, W)
    index_b = torch.arange(b, device=x.device)[:, None, None, None]
    index_c = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[index_b, index_c, rows[:, None, :, None], cols[:, None, None, :]]


def random_affine(x: torch.Tensor, degrees: float, scale: float, generator: torch.Generator) -> torch.Tensor:
    """Rotate each image by up to `degrees` and zoom by up to 1 +- `scale` about its centre (bilinear)."""
    if degrees <= 0 and scale <= 0:
        return x
    b = x.shape[0]
    angle = (torch.rand(b, generator=generator) * 2 - 1) * math.radians(degrees)
    zoom = 1 + (torch.rand(b, generator=generator) * 2 - 1) * scale
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, torch.zeros(b)], 1), torch.stack([sin, cos, torch.zeros(b)], 1)], 1)
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    # sample (x + 1) so that the zero padding outside the image is background (-1) again after the shift back
    return F.grid_sample(x + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1


def train_classifier(train: ImageSet, test: ImageSet, settings: TrainSettings | None = None,
                     device: torch.device | str = "cpu", log: Any = print) -> tuple[FeatureClassifier, dict[str, Any]]:
    """Train on `train` with shift augmentation (AdamW, one-cycle schedule), measure accuracy on `test`."""
    s = settings or TrainSettings()
    started = time.perf_counter()
    torch.manual_seed(s.seed)  # weight init; restored by the caller's fork_rng
    g = torch.Generator().manual_seed(s.seed)
    images, labels = train.images, train.labels
    if s.max_train_images is not None and len(images) > s.max_train_images:
        keep = torch.randperm(len(images), generator=g)[: s.max_train_images]
        images, labels = images[keep], labels[keep]
    model = FeatureClassifier(train.channels, s.width, s.feature_dim, s.dropout).to(device)
    steps_per_epoch = len(images) // s.batch_size
    total = steps_per_epoch * s.epochs
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=s.lr, total_steps=total, pct_start=0.2)
    model.train()
    for epoch in range(s.epochs):
        order = torch.randperm(len(images), generator=g)
        running = 0.0
        for i in range(steps_per_epoch):
            idx = order[i * s.batch_size : (i + 1) * s.batch_size]
            x = random_affine(as_float(images[idx]), s.rotate, s.scale, g)
            x = random_shift(x, s.shift, g).to(device)
            loss = F.cross_entropy(model(x), labels[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running += loss.item()
        if log:
            log(f"classifier epoch {epoch + 1}/{s.epochs}: loss {running / steps_per_epoch:.4f} "
                f"({time.perf_counter() - started:.0f} s)")
    seconds = time.perf_counter() - started
    accuracy = evaluate_accuracy(model, test)
    model.eval()
    info = {"accuracy": accuracy, "train_images": int(len(images)), "test_images": int(len(test)),
            "train_seconds": round(seconds, 1), "settings": dataclasses.asdict(s)}
    return model, info


@torch.no_grad()
def evaluate_accuracy(model: FeatureClassifier, data: ImageSet, batch: int = 1000) -> float:
    _, logits = model.extract(data.images, batch)
    return float((logits.argmax(1) == data.labels).float().mean())


# ---------------------------------------------------------------------------------------------- cache
def classifier_dir(dataset: str, results_root: str | os.PathLike[str] = store.DEFAULT_ROOT) -> Path:
    """``<results_root>/classifiers/<name>``, or ``$GENMODELS_CLASSIFIERS/<name>`` when that is set (so that
    test sessions and throw-away results folders can share one trained classifier)."""
    base = os.environ.get("GENMODELS_CLASSIFIERS")
    root = Path(base) if base else store.classifiers_folder(results_root)
    return root / CLASSIFIER_DATA.get(dataset, dataset)


def check_cache_writable(dataset: str, results_root: str | os.PathLike[str] = store.DEFAULT_ROOT) -> None:
    """Before a run trains: the folder a classifier not cached yet will be written to can be written, by the
    same check as every output folder (`files.check_writable_dir`). Otherwise a run trains for an hour and
    fails only when it caches the classifier its metrics need. A cached classifier needs no write."""
    folder = classifier_dir(dataset, results_root)
    if not (folder / METADATA).is_file():
        check_writable_dir(folder, "$GENMODELS_CLASSIFIERS" if os.environ.get("GENMODELS_CLASSIFIERS") else "--results")


def load_metadata(dataset: str, results_root: str | os.PathLike[str] = store.DEFAULT_ROOT) -> dict[str, Any] | None:
    path = classifier_dir(dataset, results_root) / METADATA
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ClassifierError(f"{path} is unreadable ({err}); delete its folder to retrain") from None


def _load_cached(folder: Path, meta: dict[str, Any], device: torch.device | str) -> FeatureClassifier:
    weights = folder / meta["weights"]
    if not weights.is_file():
        raise ClassifierError(f"{weights} named in {folder / METADATA} is missing; delete {folder} to retrain")
    digest = sha256_file(weights)
    if digest != meta["hash"]:
        raise ClassifierError(f"{weights} has sha256 {digest[:12]}..., expected {meta['hash'][:12]}... "
                              f"(from {folder / METADATA}); delete {folder} to retrain")
    model = FeatureClassifier(**meta["model"])
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    model.meta = meta  # type: ignore[assignment]
    return model.to(device).eval()


def get_classifier(dataset: str, results_root: str | os.PathLike[str] = store.DEFAULT_ROOT, *,
                   settings: TrainSettings | None = None, device: torch.device | str = "cpu",
                   data_root: str | os.PathLike[str] | None = None, retrain: bool = False,
                   log: Any = print) -> FeatureClassifier:
    """The feature classifier for `dataset` (eval mode), trained on first use and cached under `results_root`.

    `model.meta` holds the cache's metadata: dataset, hash (sha256 of the weights file), accuracy on the
    test split, train/test image counts, data source (and the MNIST 5k fallback when it was used).
    """
    key = CLASSIFIER_DATA.get(dataset, dataset)
    folder = classifier_dir(key, results_root)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train = load_dataset(key, "train", data_root)
    test = load_dataset(key, "test", data_root)

    def usable(meta: dict[str, Any] | None) -> bool:
        # a classifier trained on other images (say, before the 5k subset had a held-out part) or measured
        # against another reference is retrained: its held-out numbers would not be held out
        return meta is not None and not retrain and (
            (meta.get("train_data") or {}).get("checksum") == train.meta["checksum"]
            and (meta.get("test_data") or {}).get("checksum") == test.meta["checksum"])

    meta = load_metadata(key, results_root)
    if usable(meta):
        return _load_cached(folder, meta, device)  # type: ignore[arg-type]
    with store.folder_lock(folder):
        meta = load_metadata(key, results_root)  # another process may have finished it
        if usable(meta):
            return _load_cached(folder, meta, device)  # type: ignore[arg-type]
        s = settings or DEFAULT_SETTINGS.get(key, TrainSettings())
        if log:
            log(f"training the {key} feature classifier on {len(train)} images ({s.epochs} epochs); "
                f"cached in {folder} for later runs")
        with torch.random.fork_rng(devices=[]):  # leave the caller's random stream untouched
            model, info = train_classifier(train, test, s, device, log)
        buffer = _state_bytes(model)
        digest = hashlib.sha256(buffer).hexdigest()
        weights_name = f"weights-{digest[:12]}.pt"
        store.write_atomic(folder / weights_name, lambda tmp: tmp.write_bytes(buffer))
        meta = {
            "dataset": key,
            "hash": digest,
            "weights": weights_name,
            **info,
            "source": train.meta.get("source"),
            "train_data": {k: train.meta.get(k) for k in ("dataset", "images", "checksum")},
            "test_data": {k: test.meta.get(k) for k in ("dataset", "images", "checksum", "source", "reference")},
            "fallback": train.meta.get("fallback"),
            "trained_on_mnist_5k_fallback": bool(train.meta.get("fallback")) or train.meta.get("dataset") == "mnist-5k",
            "data_warnings": [str(w.message) for w in caught],
            "model": model.config,
            "torch": torch.__version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        store.write_json(folder / METADATA, meta)
        for old in folder.glob("weights-*.pt"):  # weights of an earlier (retrained) classifier
            if old.name != weights_name:
                old.unlink(missing_ok=True)
        model.meta = meta  # type: ignore[assignment]
        if log:
            log(f"{key} classifier: test accuracy {meta['accuracy']:.4f} after {info['train_seconds']:.0f} s")
        return model.to(device).eval()


def _state_bytes(model: nn.Module) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    return buffer.getvalue()


def summary(model: FeatureClassifier) -> dict[str, Any]:
    """What metrics.json records about the feature extractor."""
    meta = getattr(model, "meta", {}) or {}
    return {"dataset": meta.get("dataset"), "hash": meta.get("hash"), "accuracy": meta.get("accuracy"),
            "train_images": meta.get("train_images"), "test_images": meta.get("test_images"),
            "source": meta.get("source"), "trained_on_mnist_5k_fallback": meta.get("trained_on_mnist_5k_fallback"),
            "reference": (meta.get("test_data") or {}).get("reference")}


__all__ = ["FeatureClassifier", "TrainSettings", "get_classifier", "train_classifier", "random_shift",
           "classifier_dir", "check_cache_writable", "summary", "ClassifierError", "CLASSIFIER_DATA"]
