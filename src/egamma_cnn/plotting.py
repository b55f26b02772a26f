"""What the plotting of every study shares: the Agg backend, a fixed style, saving.

The multi-panel plots of the tag-and-probe, data/MC and isolation studies are laid out
for matplotlib's default style; :func:`default_style` draws them in it whatever style
the caller has set (mplhep's experiment styles change the font sizes), and leaves the
caller's style as it was. :func:`save_figure` writes a figure to its file and closes it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["default_style", "pyplot", "save_figure"]

F = TypeVar("F", bound=Callable[..., Any])


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend (files only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def default_style(function: F) -> F:
    """Decorator: run a plotting function in matplotlib's default style."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with pyplot().style.context("default"):
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def save_figure(fig: Any, path: str | Path, *, dpi: int, **options: Any) -> Path:
    """Write ``fig`` to ``path`` at ``dpi`` and close it (its memory is freed); the path.

    ``options`` go to ``Figure.savefig`` (e.g. ``bbox_inches="tight"``).
    """
    path = Path(path)
    fig.savefig(path, dpi=dpi, **options)
    pyplot().close(fig)
    return path
