"""Fixtures shared by the training and evaluation tests."""

from __future__ import annotations

from pathlib import Path

import pytest

MC_FILE = Path(__file__).parent / "data" / "zee_mc.root"


@pytest.fixture(scope="session")
def prepared(tmp_path_factory):
    """The shipped Z→ee MC file prepared as both the train and the test split."""
    from egamma_cnn.train.dataset import prepare_files

    folder = tmp_path_factory.mktemp("prepared")
    prepare_files([MC_FILE], folder / "train", progress=False)
    prepare_files([MC_FILE], folder / "test", progress=False)
    return folder
