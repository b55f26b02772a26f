"""Training of the shipped models (the ``train`` extra: PyTorch).

Importing this package does not import torch; the modules that need it do.
"""
