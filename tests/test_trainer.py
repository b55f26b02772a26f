"""The training loop: it learns, stops early, keeps the best epoch, and resumes exactly."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the train extra (torch) is not installed")

from egamma_cnn.train.networks import FeatureNet  # noqa: E402
from egamma_cnn.train.trainer import TrainingConfig, data_fingerprint, fit, predict  # noqa: E402


def _toy(seed, n=2000):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    x = rng.normal(0, 1, (n, 4)).astype(np.float32)
    x[:, 0] += 1.5 * labels  # one informative feature
    return {"features": x}, labels, np.ones(n)


def _fit(tmp, config, seed=0):
    torch.manual_seed(123)
    model = FeatureNet(4, hidden=(16,))
    train, val = _toy(seed), _toy(seed + 1, 500)
    result = fit(model, *train, *val, config, tmp, progress=False)
    return model, result


def test_it_learns_the_informative_feature(tmp_path):
    model, result = _fit(tmp_path, TrainingConfig(max_epochs=4, batch_size=64, learning_rate=1e-2))
    x, labels, _ = _toy(9, 2000)
    accuracy = (predict(model, x).argmax(1) == labels).mean()
    # the Bayes accuracy of two unit Gaussians 1.5 apart is Φ(0.75) = 0.773
    assert accuracy > 0.72
    assert len(result.history) == 4
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"] * 1.05


def test_early_stopping_keeps_the_best_epoch(tmp_path):
    # a learning rate so large that the validation loss soon stops improving
    config = TrainingConfig(max_epochs=30, batch_size=64, learning_rate=0.5, patience=2)
    model, result = _fit(tmp_path, config)
    history = result.history
    assert result.stopped_early
    best = min(range(len(history)), key=lambda k: history[k]["val_loss"])
    assert result.best_epoch == best + 1
    assert len(history) == best + 1 + config.patience
    # the model left behind is the best epoch's
    x, labels, _ = _toy(1, 500)
    probs = predict(model, x)
    loss = -np.mean(np.log(probs[np.arange(len(labels)), labels]))
    assert loss == pytest.approx(history[best]["val_loss"], rel=1e-4)


def test_resume_gives_the_same_model_as_one_run(tmp_path):
    straight, _ = _fit(tmp_path / "a", TrainingConfig(max_epochs=4, batch_size=128, patience=10))
    # interrupted after 2 epochs, then resumed in the same folder with more epochs allowed
    _fit(tmp_path / "b", TrainingConfig(max_epochs=2, batch_size=128, patience=10))
    resumed, result = _fit(
        tmp_path / "b", TrainingConfig(max_epochs=4, batch_size=128, patience=10)
    )
    assert len(result.history) == 4
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert json.loads((tmp_path / "b" / "history.json").read_text())[0]["epoch"] == 1


def test_resume_with_other_settings_is_refused(tmp_path):
    _fit(tmp_path, TrainingConfig(max_epochs=1, batch_size=128))
    with pytest.raises(ValueError, match="another training configuration"):
        _fit(tmp_path, TrainingConfig(max_epochs=1, batch_size=64))


def test_bad_inputs_are_named(tmp_path):
    inputs, labels, w = _toy(0, 100)
    x = inputs["features"]
    model = FeatureNet(4)
    with pytest.raises(ValueError, match="training input 'features' has 50 rows"):
        fit(
            model,
            {"features": x[:50]},
            labels,
            w,
            {"features": x},
            labels,
            w,
            TrainingConfig(),
            tmp_path,
            progress=False,
        )
    with pytest.raises(ValueError, match="validation weights must be finite"):
        fit(
            model,
            {"features": x},
            labels,
            w,
            {"features": x},
            labels,
            -w,
            TrainingConfig(),
            tmp_path,
            progress=False,
        )
    with pytest.raises(ValueError, match="monitor must be"):
        TrainingConfig(monitor="auc")


def test_resume_with_another_network_is_refused(tmp_path):
    _fit(tmp_path, TrainingConfig(max_epochs=1, batch_size=128))
    train, val = _toy(0), _toy(1, 500)
    with pytest.raises(ValueError, match="holds another network"):
        fit(
            FeatureNet(4, hidden=(8,)),
            *train,
            *val,
            TrainingConfig(max_epochs=1, batch_size=128),
            tmp_path,
            progress=False,
        )


def test_resume_on_other_data_is_refused(tmp_path):
    _fit(tmp_path, TrainingConfig(max_epochs=1, batch_size=128))
    with pytest.raises(ValueError, match="checkpoint of a run on other data"):
        _fit(tmp_path, TrainingConfig(max_epochs=1, batch_size=128), seed=5)


def test_fingerprint_covers_data_and_settings():
    train = _toy(0)
    assert data_fingerprint(*train) == data_fingerprint(*_toy(0))
    assert data_fingerprint(*train) != data_fingerprint(*train, extra={"ratio": 4})


def test_non_finite_inputs_and_zero_weights_are_refused(tmp_path):
    inputs, labels, w = _toy(0, 100)
    bad = {"features": inputs["features"].copy()}
    bad["features"][3, 1] = np.nan
    with pytest.raises(ValueError, match="training input 'features' has non-finite values"):
        fit(
            FeatureNet(4),
            bad,
            labels,
            w,
            inputs,
            labels,
            w,
            TrainingConfig(),
            tmp_path,
            progress=False,
        )
    with pytest.raises(ValueError, match="the validation weights are all zero"):
        fit(
            FeatureNet(4),
            inputs,
            labels,
            w,
            inputs,
            labels,
            0 * w,
            TrainingConfig(),
            tmp_path,
            progress=False,
        )


def _sign_flips(batch, rng):
    """A toy augmentation: feature 1 (uninformative) mirrored at random per row."""
    x = batch["features"].copy()
    x[:, 1] *= np.where(rng.random(len(x)) < 0.5, -1.0, 1.0).astype(np.float32)
    return {"features": x}


def _fit_augmented(tmp, config, augment_batch=_sign_flips):
    torch.manual_seed(123)
    model = FeatureNet(4, hidden=(16,))
    train, val = _toy(0), _toy(1, 500)
    result = fit(model, *train, *val, config, tmp, progress=False, augment_batch=augment_batch)
    return model, result


def test_augmented_runs_are_reproducible_and_resume_exactly(tmp_path):
    def config(epochs):
        return TrainingConfig(max_epochs=epochs, batch_size=128, patience=10, augment="eta")

    straight, result = _fit_augmented(tmp_path / "a", config(2))
    _fit_augmented(tmp_path / "b", config(1))
    resumed, _ = _fit_augmented(tmp_path / "b", config(2))
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    _, plain_result = _fit(tmp_path / "c", replace(config(1), augment=()))
    assert result.history[0]["train_loss"] != plain_result.history[0]["train_loss"]


def test_augmentation_needs_its_batch_function(tmp_path):
    with pytest.raises(ValueError, match=r"augment=\('eta', 'phi'\) needs inputs with"):
        _fit_augmented(tmp_path, TrainingConfig(augment="both"), augment_batch=None)
    with pytest.raises(ValueError, match=r"config\.augment is empty"):
        _fit_augmented(tmp_path, TrainingConfig())


def test_resume_with_a_larger_patience_continues_exactly(tmp_path):
    # a learning rate so large that the validation loss soon stops improving
    def config(patience):
        return TrainingConfig(max_epochs=30, batch_size=64, learning_rate=0.5, patience=patience)

    straight, straight_result = _fit(tmp_path / "a", config(3))
    _, stopped = _fit(tmp_path / "b", config(1))
    assert stopped.stopped_early and len(stopped.history) < len(straight_result.history)
    resumed, result = _fit(tmp_path / "b", config(3))
    assert result.history == [
        {**h, "seconds": r["seconds"]}
        for h, r in zip(straight_result.history, result.history, strict=True)
    ]
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_checkpoints_from_before_augmentation_resume(tmp_path):
    _fit(tmp_path, TrainingConfig(max_epochs=1, batch_size=128))
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    del state["config"]["augment"]  # as written before the setting existed
    torch.save(state, tmp_path / "last.pt")
    _, result = _fit(tmp_path, TrainingConfig(max_epochs=2, batch_size=128))
    assert len(result.history) == 2
