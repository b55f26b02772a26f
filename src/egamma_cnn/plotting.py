"""What the plotting of every runner shares: the Agg backend and a fixed style.

The multi-panel plots of the tag-and-probe, data/MC and isolation runners are laid out
for matplotlib's default style; :func:`default_style` draws them in it whatever style
the caller has set (mplhep's experiment styles change the font sizes), and leaves the
caller's style as it was.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["default_style", "pyplot"]

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
