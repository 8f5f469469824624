"""Using trained runs: `genmodels.load_run` on a tiny real run of each model family, `python -m genmodels sample`,
and one clear line (exit 2) for every folder that is not a usable run.

The runs are tiny (width 8, depth 1, 12 steps on 64 real images) but go through `run_config`, so the folders
are exactly what training writes; a hook saves ``best.pt`` at step 6, as the quality hook would, so that best
and final weights differ without training the metrics' classifier.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import genmodels
from genmodels.core import store
from genmodels.cli import main
from genmodels.core.config import RunConfig
from genmodels.runs.run import run_config
from genmodels.runs.trained import RunError, TrainedRun, load_run

TINY: dict[str, Any] = dict(dataset="mnist-5k", depth=1, z_dim=4, width=8, batch_size=8, steps=12, n_train=64,
                            sample_every=0, checkpoint_every=0, metric_samples=0, progress=False, device="cpu")
FAMILIES = {"vae": {"model": "vae"}, "gan": {"model": "gan"}, "wgan": {"model": "wgan", "lipschitz": "gp"}}
BEST_STEP = 6

pytestmark = pytest.mark.usefixtures("single_thread")


class SaveBestAt:
    """Stands in for the quality hook's best-by-FID checkpoint."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step(self, trainer: Any) -> None:
        if trainer.step == self.step:
            trainer.save_checkpoint(trainer.out_dir / store.BEST)

    def on_end(self, trainer: Any) -> None:
        pass


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, single_thread: None) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("trained")
    folders = {}
    for name, values in FAMILIES.items():
        folders[name] = root / name
        run_config(RunConfig(**{**TINY, **values}), folders[name], hooks=[SaveBestAt(BEST_STEP)], evaluate=None)
    return folders


# ---------------------------------------------------------------------------------------------- the Python API
@pytest.mark.parametrize("family", list(FAMILIES))
def test_load_run_samples_in_range_and_by_seed(runs: dict[str, Path], family: str) -> None:
    run = genmodels.load_run(runs[family])
    assert isinstance(run, TrainedRun)
    assert run.config.model == family and run.config.z_dim == 4
    assert run.step == TINY["steps"] and run.checkpoint.name == store.CHECKPOINT
    assert run.metrics["step"] == TINY["steps"]  # metrics.json
    assert not run.model.training
    x = run.sample(10, seed=3)
    assert x.shape == (10, 1, 32, 32) and x.device.type == "cpu"
    assert x.min() >= -1 and x.max() <= 1
    assert torch.equal(x, run.sample(10, seed=3))  # the seed decides the samples
    assert not torch.equal(x, run.sample(10, seed=4))
    # the generator average is what a GAN run's samples come from (the tuned recipe keeps one)
    assert run.averaged == (family != "vae")


@pytest.mark.parametrize("family", list(FAMILIES))
def test_loaded_model_is_the_trained_one(runs: dict[str, Path], family: str) -> None:
    """Samples drawn from the loaded model are those the trainer itself draws for the same latents."""
    from genmodels.training.loop import Trainer

    run = load_run(runs[family])
    trainer = Trainer(run.config, runs[family])
    trainer.load_checkpoint(runs[family] / store.CHECKPOINT)
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    from genmodels.training.generate import generate

    assert torch.allclose(trainer.samples(z), generate(run.model, z), atol=1e-6)


def test_best_and_final_weights_differ(runs: dict[str, Path]) -> None:
    final, best = load_run(runs["gan"]), load_run(runs["gan"], checkpoint="best")
    assert (best.step, best.checkpoint.name, best.notes) == (BEST_STEP, store.BEST, [])
    assert not torch.equal(final.sample(4), best.sample(4))


def test_best_falls_back_to_final_and_says_so(runs: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    copy = shutil.copytree(runs["vae"], tmp_path / "vae")
    (copy / store.BEST).unlink()
    run = load_run(copy, checkpoint="best")
    assert run.checkpoint.name == store.CHECKPOINT and run.step == TINY["steps"]
    assert len(run.notes) == 1 and store.BEST in run.notes[0]


def test_interpolate(runs: dict[str, Path]) -> None:
    run = load_run(runs["wgan"])
    path = run.interpolate(steps=7, seed=1)
    assert path.shape == (7, 1, 32, 32)
    assert torch.equal(path, run.interpolate(steps=7, seed=1))
    assert run.interpolate(steps=5, rows=3).shape == (15, 1, 32, 32)
    z0, z1 = torch.zeros(4), torch.ones(4)
    ends = run.interpolate(steps=3, z0=z0, z1=z1)
    from genmodels.training.generate import generate

    assert torch.allclose(ends[[0, -1]], generate(run.model, torch.stack([z0, z1])), atol=1e-5)
    with pytest.raises(RunError, match="z_dim=4"):
        run.interpolate(z0=torch.zeros(5), z1=torch.zeros(5))


def test_reconstruct_vae(runs: dict[str, Path]) -> None:
    from genmodels.data import load_dataset

    run = load_run(runs["vae"])
    x = load_dataset("mnist-5k", "test").batch(slice(0, 5), "cpu")
    recon = run.reconstruct(x)
    assert recon.shape == x.shape and recon.min() >= -1 and recon.max() <= 1
    assert torch.allclose(run.reconstruct(x[0]), recon[0], atol=1e-5)  # one image (C, H, W) works too
    with pytest.raises(RunError, match=r"\(B, 1, 32, 32\)"):
        run.reconstruct(torch.zeros(2, 3, 32, 32))


@pytest.mark.parametrize(("x", "got"), [
    ([[0.0] * 32] * 32, "got a list"), (None, "got a NoneType"), (torch.zeros(1, 1, 32, 32, dtype=torch.uint8),
                                                                 "got a torch.uint8 tensor"),
    (torch.zeros(32, 32), "got shape (32, 32)"), (torch.zeros(2, 1, 28, 28), "got shape (2, 1, 28, 28)"),
])
def test_reconstruct_of_anything_but_images_is_a_value_error_saying_the_shape(runs: dict[str, Path], x: Any,
                                                                               got: str) -> None:
    """A list, None, integer pixels or another shape: one ValueError saying the shape it needs (torch's own
    AttributeError or convolution error before)."""
    with pytest.raises(ValueError) as info:
        load_run(runs["vae"]).reconstruct(x)
    assert "(B, 1, 32, 32) or (1, 32, 32)" in str(info.value) and got in str(info.value), info.value


@pytest.mark.parametrize(("x", "got"), [
    (torch.full((2, 1, 32, 32), float("nan")), "got NaN"),
    (torch.zeros(1, 1, 32, 32).index_fill_(3, torch.tensor([5]), float("-inf")), "got infinite values"),
    (torch.full((1, 32, 32), 1e9), "got values in [1e+09, 1e+09]"),
    (torch.arange(1024.0).reshape(1, 1, 32, 32) % 256, "got values in [0, 255]"),
    (torch.linspace(-1.01, 1.0, 1024).reshape(1, 1, 32, 32), "got values in [-1.01, 1]"),
], ids=["NaN", "-inf", "1e9", "pixels in [0, 255]", "1 percent below -1"])
def test_reconstruct_of_pixels_outside_minus_one_to_one_says_which(runs: dict[str, Path], x: torch.Tensor,
                                                                   got: str) -> None:
    """NaN, infinite or out-of-scale pixels (uint8 values as floats): one RunError saying what came (the model
    reconstructed them without a word before)."""
    with pytest.raises(RunError) as info:
        load_run(runs["vae"]).reconstruct(x)
    assert got in str(info.value) and "in [-1, 1]" in str(info.value) and "\n" not in str(info.value), info.value


def test_reconstruct_allows_float_rounding_at_the_range_ends(runs: dict[str, Path]) -> None:
    x = torch.linspace(-1 - 1e-4, 1 + 1e-4, 1024).reshape(1, 1, 32, 32)  # within the tolerance of 1e-3
    assert load_run(runs["vae"]).reconstruct(x).shape == (1, 1, 32, 32)


@pytest.mark.parametrize("family", ["gan", "wgan"])
def test_reconstruct_is_a_clear_error_for_gans(runs: dict[str, Path], family: str) -> None:
    with pytest.raises(RunError, match=f"needs a VAE.*{family} run.*no encoder"):
        load_run(runs[family]).reconstruct(torch.zeros(1, 1, 32, 32))


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_sample_count_must_be_positive(runs: dict[str, Path], bad: Any) -> None:
    with pytest.raises(RunError, match="n must be an integer >= 1"):
        load_run(runs["vae"]).sample(bad)


def test_import_genmodels_stays_light() -> None:
    """The package's top level imports neither torch nor pandas (the CLI's --help, config checks); `load_run`
    and friends are imported on first use."""
    code = "import sys, genmodels; heavy = [m for m in ('torch', 'pandas') if m in sys.modules]; assert not heavy, heavy"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert genmodels.load_run is load_run and "load_run" in dir(genmodels)
    assert genmodels.results_frame.__module__ == "genmodels.runs.results"
    with pytest.raises(AttributeError):
        genmodels.no_such_name


def test_readme_snippet_runs(runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    """README "Using a trained model": its Python block runs as printed, on a tiny GAN run."""
    root = Path(__file__).resolve().parents[2]
    section = (root / "README.md").read_text().split("## Using a trained model", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert "runs/gan-1min" in code
    monkeypatch.chdir(root)  # the sweep file's path is relative to the repository
    namespace: dict[str, Any] = {}
    exec(compile(code.replace("runs/gan-1min", str(runs["gan"])), "README.md", "exec"), namespace)
    assert namespace["images"].shape == (64, 1, 32, 32) and namespace["path"].shape == (10, 1, 32, 32)
    assert capsys.readouterr().out.startswith(f"gan {TINY['steps']} ")
    assert len(namespace["runs"]) > 1 and {"status", "FID", "collapsed"} <= set(namespace["runs"].columns)


# ---------------------------------------------------------------------------------------------- broken folders
def _broken(kind: str, runs: dict[str, Path], tmp: Path) -> tuple[Path, str]:
    """A folder that is not a usable run, and a fragment its one-line error must contain."""
    import shutil

    folder = tmp / kind
    if kind == "missing":
        return folder, "is not a folder"
    if kind == "empty":
        folder.mkdir()
        return folder, f"{folder / store.CONFIG} is missing"
    shutil.copytree(runs["vae"], folder)
    if kind == "config-not-json":
        (folder / store.CONFIG).write_text("not json {")
        return folder, f"{folder} is damaged: {store.CONFIG} is not valid JSON"
    if kind == "older-version":  # a config field this version does not know
        values = json.loads((folder / store.CONFIG).read_text())
        (folder / store.CONFIG).write_text(json.dumps({**values, "latent_prior": "gaussian"}))
        return folder, f"{folder} is damaged: {store.CONFIG}: not a valid configuration"
    if kind == "no-checkpoint":
        (folder / store.CHECKPOINT).unlink()
        return folder, f"{folder} is damaged: {store.CHECKPOINT} is missing"
    if kind == "corrupt-checkpoint":
        (folder / store.CHECKPOINT).write_bytes(b"\x00garbage" * 50)
        return folder, f"{folder} is damaged: {store.CHECKPOINT}: not a checkpoint that can be read as plain data"
    if kind == "foreign-checkpoint":  # a plain state dict of some other network
        torch.save({"step": 3, "weight": torch.zeros(2)}, folder / store.CHECKPOINT)
        return folder, "has no 'config', which loading the run needs"
    if kind == "pickled-code":  # weights_only=True refuses to unpickle arbitrary objects
        torch.save({"step": 1, "model": {}, "config": {}, "payload": SaveBestAt(1)}, folder / store.CHECKPOINT)
        return folder, "can be read as plain data"
    if kind == "other-model":  # the GAN's checkpoint beside the VAE's config
        shutil.copy(runs["gan"] / store.CHECKPOINT, folder / store.CHECKPOINT)
        return folder, "belongs to another configuration"
    if kind == "mismatched-weights":  # right config, weights of another shape
        state = torch.load(folder / store.CHECKPOINT, weights_only=True)
        state["model"] = {k: v[:1] if v.dim() else v for k, v in state["model"].items()}
        torch.save(state, folder / store.CHECKPOINT)
        return folder, "does not hold weights of the model"
    if kind == "integer-weights":  # weights of a foreign or hand-made checkpoint that torch would cast silently
        state = torch.load(folder / store.CHECKPOINT, weights_only=True)
        state["model"] = {k: v.long() for k, v in state["model"].items()}
        torch.save(state, folder / store.CHECKPOINT)
        return folder, "holds int64 weights in 'model.encoder."
    if kind in ("nan-weights", "negative-step"):  # a diverged run's weights; a step that is no count
        state = torch.load(folder / store.CHECKPOINT, weights_only=True)
        if kind == "nan-weights":
            state["model"] = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                              for k, v in state["model"].items()}
        else:
            state["step"] = -3
        torch.save(state, folder / store.CHECKPOINT)
        return folder, "not finite" if kind == "nan-weights" else "holds step -3"
    raise AssertionError(kind)


BROKEN = ["missing", "empty", "config-not-json", "older-version", "no-checkpoint", "corrupt-checkpoint",
          "foreign-checkpoint", "pickled-code", "other-model", "mismatched-weights", "nan-weights", "integer-weights",
          "negative-step"]


def snapshot(folder: Path) -> dict[Path, str]:
    """Every file under `folder` with a hash of its bytes: what reading a run must leave as it found it."""
    import hashlib

    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("kind", BROKEN)
def test_unusable_folder_is_one_line_from_load_run(runs: dict[str, Path], tmp_path: Path, kind: str) -> None:
    folder, fragment = _broken(kind, runs, tmp_path)
    with pytest.raises(RunError if kind in ("missing", "empty", "config-not-json", "older-version", "no-checkpoint")
                       else genmodels.ConfigError) as info:
        load_run(folder)
    assert fragment in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("kind", BROKEN)
def test_unusable_folder_is_one_line_and_exit_2_from_the_cli(runs: dict[str, Path], tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str], kind: str) -> None:
    folder, fragment = _broken(kind, runs, tmp_path)
    before = snapshot(tmp_path)
    assert main(["sample", str(folder), "--out", str(tmp_path / "grid.png")]) == 2
    assert snapshot(tmp_path) == before
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
    assert fragment in captured.err
    assert not (tmp_path / "grid.png").exists()


# ---------------------------------------------------------------------------------------------- the sample command
def test_sample_without_the_weight_average_says_so(runs: dict[str, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A GAN run that kept a weight average, whose checkpoint lost it: the raw generator samples, and one note says
    so (it sampled silently from the raw weights)."""
    import shutil

    folder = Path(shutil.copytree(runs["gan"], tmp_path / "no-ema"))
    state = torch.load(folder / store.CHECKPOINT, weights_only=True)
    del state["ema"]
    torch.save(state, folder / store.CHECKPOINT)
    before = snapshot(folder)
    assert main(["sample", str(folder), "--n", "4", "--out", str(tmp_path / "grid.png")]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("note: ") and "no weight average ('ema')" in err, err
    assert snapshot(folder) == before and (tmp_path / "grid.png").is_file()


def test_sample_command_writes_a_png_grid(runs: dict[str, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    out = tmp_path / "grid.png"
    assert main(["sample", str(runs["gan"]), "--n", "10", "--seed", "0", "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    width, height = Image.open(out).size  # 10 images: 4 per row, 3 rows of 32 + 2 px padding
    assert (width, height) == (4 * 34 + 2, 3 * 34 + 2)


def test_sample_overwrite_replaces_only_when_asked(runs: dict[str, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "grid.png"
    out.write_text("a file kept from before")
    assert main(["sample", str(runs["gan"]), "--n", "4", "--out", str(out)]) == 2
    assert out.read_text() == "a file kept from before" and "--overwrite" in capsys.readouterr().err
    assert main(["sample", str(runs["gan"]), "--n", "4", "--out", str(out), "--overwrite"]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("suffix", [".pt", ".npz"])
def test_sample_command_writes_tensors(runs: dict[str, Path], tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"samples{suffix}"
    assert main(["sample", str(runs["vae"]), "--n", "6", "--seed", "2", "--checkpoint", "best", "--out",
                 str(out)]) == 0
    if suffix == ".pt":
        images = torch.load(out, weights_only=True)
    else:
        images = torch.from_numpy(np.load(out)["samples"])
    assert images.shape == (6, 1, 32, 32)
    assert torch.equal(images, load_run(runs["vae"], "best").sample(6, seed=2))


@pytest.mark.parametrize(("args", "fragment"), [
    (["--n", "0"], "n must be an integer >= 1, got 0"),
    (["--n", "-5"], "n must be an integer >= 1, got -5"),
    (["--out", "grid.gif"], "must end in .png, .pt, .npz"),
])
def test_sample_command_bad_arguments(runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      args: list[str], fragment: str) -> None:
    argv = ["sample", str(runs["vae"]), "--out", str(tmp_path / "grid.png"), *args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and fragment in err, err


@pytest.mark.slow  # a fresh interpreter imports torch and the CLI's modules: ~10 s on two busy cores
def test_sample_command_as_a_process(runs: dict[str, Path], tmp_path: Path) -> None:
    """What a user types; a folder that is not a run gives one line on stderr, no traceback."""
    done = subprocess.run([sys.executable, "-m", "genmodels", "sample", str(tmp_path), "--out",
                           str(tmp_path / "x.png")], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr


@pytest.mark.slow
def test_every_quick_profile_run_loads_with_best_and_final_weights(quick_results: Path) -> None:
    """Real sweep runs (notebook, quality hook, best.pt): best is the step metrics.json names, final the last."""
    finished = store.finished_runs(quick_results)
    assert finished
    for folder in finished:
        final, best = load_run(folder), load_run(folder, checkpoint="best")
        assert final.step == final.metrics["step"]
        named = final.metrics["best"]["checkpoint"]
        assert best.checkpoint.name == (named or store.CHECKPOINT)
        if named:
            assert best.step == final.metrics["best"]["step"]
        assert best.sample(4, seed=0).shape[0] == 4


def test_the_store_checks_the_keys_a_trained_checkpoint_holds(runs: dict[str, Path]) -> None:
    """`store.WEIGHT_KEYS` (what a damaged checkpoint lacks) names only keys the trainer writes."""
    for folder in runs.values():
        state = torch.load(folder / store.CHECKPOINT, weights_only=True)
        assert set(store.WEIGHT_KEYS) <= set(state), folder
        assert store.run_state(folder).status is store.Status.COMPLETE
