"""Pre-built coffea processors of egamma-cnn, importable as ``egamma_cnn.processors``.

The tag-and-probe, isolation and data/MC processors are added here by their own
issues; this package is installed (editable and wheel) from the top-level
``processors/`` folder through ``[tool.setuptools.package-dir]``.
"""

__all__: list[str] = []
