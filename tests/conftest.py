"""Fixtures shared by the training and evaluation tests."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# the tests keep their preprocessing cache (egamma_cnn.execution.preprocessing) to
# themselves, not in the user's ~/.cache; the commands they run inherit it
os.environ["EGAMMA_CNN_CACHE_DIR"] = tempfile.mkdtemp(prefix="egamma-cnn-test-cache-")

MC_FILE = Path(__file__).parent / "data" / "zee_mc.root"


@pytest.fixture(scope="session")
def prepared(tmp_path_factory):
    """The shipped Z→ee MC file prepared as the train split, and a renamed copy as test.

    (The tests check the mechanics; real test files come from other seeds.)
    """
    import shutil

    from egamma_cnn.train.dataset import prepare_files

    folder = tmp_path_factory.mktemp("prepared")
    copy = folder / "zee_mc_copy_for_test.root"
    shutil.copyfile(MC_FILE, copy)
    prepare_files([MC_FILE], folder / "train", progress=False)
    prepare_files([copy], folder / "test", progress=False)
    return folder
