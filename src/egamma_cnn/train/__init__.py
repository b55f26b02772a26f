"""Training of the shipped models and their baselines (the ``train`` extra: PyTorch, onnx).

Importing this package, :mod:`.samples`, :mod:`.dataset` or :mod:`.reweighting` does not
import torch; the modules that train, export or evaluate the networks import it at their
top (:mod:`.evaluation` records its metrics into the ONNX files through :mod:`.export`).

* :mod:`.samples` — the reproducible production plan of the training and test files.
* :mod:`.dataset` — network inputs and features of every candidate as ``.npy`` arrays,
  built with :mod:`egamma_cnn.images` and :mod:`egamma_cnn.features`.
* :mod:`.reweighting` — the (E_T, η) class balance of ATL-PHYS-PUB-2023-001 §5.1, the photon p_T
  reweighting of Franco's photon-ID talk.
* :mod:`.networks` — the electron CNN (ATL-PHYS-PUB-2023-001 Table 6 layout), the FCN variants and
  the photon CNN (Franco's photon-ID talk).
* :mod:`.trainer` — Adam, weighted cross-entropy, early stopping, resumable checkpoints.
* :mod:`.electron`, :mod:`.photon`, :mod:`.baselines` — the training recipes.
* :mod:`.export` — ONNX with the metadata :class:`egamma_cnn.model.OnnxModel` checks.
* :mod:`.evaluation` — the test-sample figures and tables of the model card.

The command line runs them: ``egamma-cnn train-samples | prepare | train | evaluate``.
"""
