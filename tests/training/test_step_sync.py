"""The training step never waits for the device, and CPU training is bit for bit what it was.

On CUDA, reading a value back (``.item()``, ``bool(t)``, ``.tolist()``) or copying a pageable CPU tensor to
the GPU makes the CPU wait for every kernel queued before it. Without a GPU this is checked on PyTorch's
`meta` device: the whole `Trainer.fit` runs there with a `TorchFunctionMode` that records every read of a
meta tensor into Python (answering it with zeros, which a meta tensor cannot) and every copy from the CPU
to meta, each with the step it happened at. Reads must come once per `read_every` steps, never per step.

The loop that reads each loss with ``.item()`` and averages with ``torch.optim.swa_utils.AveragedModel`` is
kept here as the reference (`reference_fit`): what training computed before; `Trainer.fit` must match it
exactly -- every history value, every weight, the average's state.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from same_run import without_seconds
from torch.overrides import TorchFunctionMode

from genmodels.core.config import RunConfig
from genmodels.data import ImageSet
from genmodels.models import AdversarialModel
from genmodels.training import loop
from genmodels.training.loop import Trainer, TrainingDiverged, adversarial_step, vae_step
from genmodels.training.loss_log import PendingLosses
from genmodels.training.weight_average import GeneratorEMA

META = torch.device("meta")
READS = {"item", "tolist", "__bool__", "__float__", "__int__", "__index__", "numpy", "cpu", "__format__"}
FAMILIES: dict[str, dict[str, Any]] = {
    "vae": {"model": "vae"},
    "vae-seed-bf16": {"model": "vae", "recipe": "seed", "precision": "bf16"},
    "gan-ema": {"model": "gan"},
    "gan-seed-sigmoid": {"model": "gan", "recipe": "seed", "d_output": "sigmoid"},
    "wgan-gp-ema": {"model": "wgan", "lipschitz": "gp"},
    "wgan-clip-ema": {"model": "wgan", "lipschitz": "clip", "n_critic": 2},
    "wgan-gp-augment": {"model": "wgan", "lipschitz": "gp", "augment": "translation,cutout", "ema": 0.99},
}
# meta kernels run as Python reference code (about 1 ms an op), so the meta check takes each step function and
# Lipschitz method once; bf16 autocast has no meta device
ON_META = ["vae", "gan-ema", "wgan-gp-ema", "wgan-clip-ema", "wgan-gp-augment"]

pytestmark = pytest.mark.usefixtures("single_thread")


def images(n: int = 96) -> ImageSet:
    g = torch.Generator().manual_seed(5)
    return ImageSet(torch.randint(0, 256, (n, 1, 32, 32), generator=g, dtype=torch.uint8), torch.zeros(n).long())


def tiny(family: str, **overrides: Any) -> RunConfig:
    return RunConfig(**{"depth": 2, "z_dim": 8, "width": 8, "batch_size": 16, "steps": 7, "sample_every": 0,
                        "checkpoint_every": 0, "progress": False, "metric_samples": 0, "device": "cpu",
                        **FAMILIES[family], **overrides})


# ---------------------------------------------------------------------------------------------- no sync per step
class DeviceTraffic(TorchFunctionMode):
    """Records reads of meta tensors into Python and copies from the CPU onto meta, with the step of each."""

    def __init__(self, step: Callable[[], int]) -> None:
        super().__init__()
        self.step = step
        self.reads: list[tuple[int, str]] = []
        self.uploads: list[int] = []

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        first = args[0] if args else None
        if isinstance(first, torch.Tensor) and first.device == META and name in READS:
            self.reads.append((self.step(), name))
            if name == "tolist":
                return [0.0] * first.numel()  # what a GPU would send back; meta has no values to send
            if name in ("item", "__float__"):
                return 0.0
            if name == "__bool__":
                return False
            if name in ("__int__", "__index__"):
                return 0
        if name in ("to", "copy_", "cuda") and self._uploads(name, first, args, kwargs):
            self.uploads.append(self.step())
        return func(*args, **kwargs)

    @staticmethod
    def _uploads(name: str, first: Any, args: Any, kwargs: Any) -> bool:
        if name == "copy_":
            source = args[1] if len(args) > 1 else kwargs.get("src")
            return first.device == META and isinstance(source, torch.Tensor) and source.device.type == "cpu"
        target = kwargs.get("device") or next((a for a in args[1:] if isinstance(a, (str, torch.device))), None)
        return (isinstance(first, torch.Tensor) and first.device.type == "cpu" and target is not None
                and torch.device(target) == META)


def fit_on_meta(family: str, steps: int, read_every: int, monkeypatch: pytest.MonkeyPatch,
                tmp_path: Path) -> tuple[Trainer, DeviceTraffic]:
    """`Trainer.fit` with every tensor of the run on meta; persistence is left out (meta tensors hold no data)."""
    monkeypatch.setattr(loop, "resolve_device", lambda device: META)
    monkeypatch.setattr(Trainer, "save_checkpoint", lambda self, path=None: None)
    trainer = Trainer(tiny(family, steps=steps), tmp_path, train_data=images())
    trainer.read_every = read_every
    traffic = DeviceTraffic(lambda: trainer.step)
    with traffic:
        trainer.fit(resume=False)
    return trainer, traffic


@pytest.mark.parametrize("family", ON_META)
def test_training_reads_the_device_once_per_read_not_per_step(family: str, monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    """7 steps with a read every 3: three reads (steps 3, 6, and the end), one `tolist` each, and nothing
    else read; the only uploads are each epoch's data order (96 images, batches of 16: every 6 batches)."""
    trainer, traffic = fit_on_meta(family, steps=7, read_every=3, monkeypatch=monkeypatch, tmp_path=tmp_path)
    assert traffic.reads == [(3, "tolist"), (6, "tolist"), (7, "tolist")]
    n_critic = trainer.config.n_critic or 1
    assert len(traffic.uploads) <= math.ceil(7 * n_critic / 6)
    assert [row["step"] for row in trainer.history] == list(range(1, 8))  # every step has its row
    assert (tmp_path / "history.csv").read_text().count("\n") == 8


def test_the_meta_check_catches_a_read_per_step(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The premise: a step that reads its loss with .item(), as training did before, is seen at every step."""
    original = loop.vae_step

    def reading_step(*args: Any) -> dict[str, torch.Tensor]:
        terms = original(*args)
        terms["loss"].item()
        return terms

    monkeypatch.setattr(loop, "vae_step", reading_step)
    _, traffic = fit_on_meta("vae", steps=5, read_every=10, monkeypatch=monkeypatch, tmp_path=tmp_path)
    assert [step for step, name in traffic.reads if name == "item"] == [0, 1, 2, 3, 4]  # before each increment


def test_torchs_averaged_model_would_sync_every_step() -> None:
    """Why GeneratorEMA keeps its own count: AveragedModel asks bool(n_averaged == 0) at every update."""
    from torch.optim.swa_utils import AveragedModel

    net = torch.nn.Linear(2, 2).to(META)
    averaged = AveragedModel(net, use_buffers=False).to(META)  # as the old GeneratorEMA.to_device did
    traffic = DeviceTraffic(lambda: 0)
    with traffic:
        averaged.update_parameters(net)
    assert any(name == "__bool__" for _, name in traffic.reads)
    ours = GeneratorEMA(net, decay=0.9, z_dim=2)
    with DeviceTraffic(lambda: 0) as quiet:
        ours.update(net)
        ours.update(net)
    assert quiet.reads == []


# ---------------------------------------------------------------------------------------------- bit-identical on CPU
def old_average(decay: float) -> Callable[[list[torch.Tensor], list[torch.Tensor], Any], None]:
    """GeneratorEMA's averaging function as it was handed to AveragedModel."""
    def average(averaged: list[torch.Tensor], current: list[torch.Tensor], count: Any) -> None:
        n = int(count)
        torch._foreach_lerp_(averaged, current, 1.0 - min(decay, (1 + n) / (10 + n)))
    return average


def reference_fit(trainer: Trainer) -> tuple[list[dict[str, float]], Any]:
    """The loop as it was: each term read with .item() after its step, NaN checked at once, the generator
    averaged by torch's AveragedModel. Runs on `trainer`'s model, optimizers and data stream."""
    from torch.optim.swa_utils import AveragedModel

    c = trainer.config
    averaged = None
    if trainer.ema is not None:
        averaged = AveragedModel(trainer.model.generator, multi_avg_fn=old_average(c.ema), use_buffers=False)
        averaged.requires_grad_(False)
    autocast = lambda: loop._autocast(trainer.device, c.precision)  # noqa: E731
    history = []
    trainer.model.train()
    for step in range(1, c.total_steps + 1):
        if isinstance(trainer.model, AdversarialModel):
            terms = adversarial_step(trainer.model, trainer.optimizers, trainer.stream, autocast, c.n_critic or 1)
        else:
            terms = vae_step(trainer.model, trainer.optimizers, trainer.stream, autocast)
        values = {k: v.item() for k, v in terms.items()}
        if averaged is not None:
            averaged.update_parameters(trainer.model.generator)
        assert all(math.isfinite(v) for v in values.values())
        history.append({"step": step, "images": trainer.stream.images_seen, **values})
    return history, averaged


def assert_same_tensors(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key].float(), b[key].float()) and a[key].dtype == b[key].dtype, key


@pytest.mark.parametrize("family", FAMILIES)
def test_cpu_training_is_bit_identical_to_the_loop_before(family: str, tmp_path: Path) -> None:
    """7 steps of each family (read every 3, so reads fall mid-run), against the reference loop from the same
    seed: the same history floats, weights, optimizer state and weight average (its state_dict included)."""
    trainer = Trainer(tiny(family), tmp_path / "new", train_data=images())
    trainer.read_every = 3
    trainer.fit(resume=False)
    reference = Trainer(tiny(family), tmp_path / "old", train_data=images())
    history, averaged = reference_fit(reference)
    assert without_seconds(trainer.history) == history
    assert_same_tensors(trainer.model.state_dict(), reference.model.state_dict())
    for name, optimizer in trainer.optimizers.items():
        state, old = optimizer.state_dict()["state"], reference.optimizers[name].state_dict()["state"]
        assert list(state) == list(old) and all(assert_same_tensors(state[k], old[k]) is None for k in state)
    assert (trainer.ema is None) == (averaged is None)
    if averaged is not None:
        assert_same_tensors(trainer.ema.state_dict(), averaged.state_dict())
        assert int(averaged.n_averaged) == trainer.ema.n_averaged == 7


def test_weight_average_state_loads_both_ways() -> None:
    """A best.pt or checkpoint written with AveragedModel loads into GeneratorEMA, and the other way round."""
    from torch.optim.swa_utils import AveragedModel

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    old = AveragedModel(net, multi_avg_fn=old_average(0.9), use_buffers=False)
    ema = GeneratorEMA(net, decay=0.9, z_dim=3)
    for _ in range(4):
        with torch.no_grad():
            net[0].weight.add_(torch.randn_like(net[0].weight))
        net(torch.randn(8, 3))  # moves the batch-norm statistics, which the average copies
        old.update_parameters(net)
        ema.update(net)
    assert_same_tensors(ema.state_dict(), old.state_dict())
    loaded = GeneratorEMA(net, decay=0.9, z_dim=3)
    loaded.load_state_dict(old.state_dict())
    assert loaded.n_averaged == 4
    assert_same_tensors(loaded.state_dict(), old.state_dict())
    back = AveragedModel(net, use_buffers=False)
    back.load_state_dict(ema.state_dict())
    assert int(back.n_averaged) == 4
    with pytest.raises(RuntimeError, match="weight average"):
        loaded.load_state_dict({"module.0.weight": net[0].weight, "other": torch.zeros(1)})


# ---------------------------------------------------------------------------------------------- reading in batches
def test_pending_losses_read_exactly_in_their_own_dtypes() -> None:
    """bf16 and fp32 terms read together give the floats .item() gives; rows come back in step order."""
    pending = PendingLosses()
    values = [torch.tensor(1 / 3), torch.tensor(2 / 3, dtype=torch.bfloat16), torch.tensor(1e-30)]
    for step in (1, 2):
        pending.add({"step": step}, {"a": values[0] * step, "b": values[1], "c": values[2]})
    history: list[dict[str, Any]] = []
    pending.drain_into(history)
    assert history == [{"step": s, "a": (values[0] * s).item(), "b": values[1].item(), "c": values[2].item()}
                       for s in (1, 2)]
    assert len(pending) == 0
    pending.drain_into(history)  # nothing pending: nothing read
    assert len(history) == 2


def test_pending_losses_name_the_first_bad_step_and_keep_the_ones_before() -> None:
    pending = PendingLosses()
    for step, value in [(1, 1.0), (2, 2.0), (3, math.inf), (4, math.nan)]:
        pending.add({"step": step}, {"loss": torch.tensor(1.0), "kl": torch.tensor(value)})
    history: list[dict[str, Any]] = []
    with pytest.raises(TrainingDiverged, match=r"^kl became inf at step 3; try a lower lr$"):
        pending.drain_into(history)
    assert [row["step"] for row in history] == [1, 2] and len(pending) == 0


def test_a_loss_term_must_be_one_number() -> None:
    pending = PendingLosses()
    pending.add({"step": 1}, {"loss": torch.ones(2)})
    with pytest.raises(ValueError, match="'loss' has 2 elements"):
        pending.drain_into([])


def test_divergence_is_caught_before_a_checkpoint_holds_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A NaN at step 3 with a checkpoint due at step 5 and reads every 100: the read before that checkpoint
    stops the run, naming step 3, and no checkpoint of the diverged weights is written."""
    original = loop.vae_step

    def nan_at_three(*args: Any) -> dict[str, torch.Tensor]:
        terms = original(*args)
        if args[2].images_seen == 3 * 16:
            terms["kl"] = terms["kl"] * math.nan
        return terms

    monkeypatch.setattr(loop, "vae_step", nan_at_three)
    trainer = Trainer(tiny("vae", steps=20, checkpoint_every=5), tmp_path, train_data=images())
    with pytest.raises(TrainingDiverged, match=r"kl became nan at step 3"):
        trainer.fit(resume=False)
    assert trainer.step == 5 and not (tmp_path / "checkpoint.pt").exists()
    assert [row["step"] for row in trainer.read_rows] == [1, 2]
