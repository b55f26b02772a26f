"""What a run over a fileset gives back and what it left out: outputs, failures, errors.

:class:`FilesetRun` is what :func:`egamma_cnn.execution.run_fileset` returns: the
outputs per dataset and every :class:`Failure` (a file that cannot be opened, a chunk
that cannot be read) with its reason; :class:`BadInputError` is what it raises when bad
input is met without the permission to go on. They are plain data, kept apart from the
machinery of :mod:`.runner`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["BadInputError", "Failure", "FilesetRun"]


class BadInputError(RuntimeError):
    """A file that is missing, cannot be opened or lacks branches, or a chunk whose
    reading or computation fails, without permission to go on (``skip_bad_files``).
    Its message is one line naming the dataset, the file and the entry range."""


@dataclass(frozen=True)
class Failure:
    """A file or a chunk left out of a run: where, and why.

    ``str()`` is one line: ``dataset 'zee': /data/a.root entries [10, 20): reason``.
    """

    dataset: str
    file: str
    reason: str
    entry_start: int | None = None  # None: the whole file (it cannot be opened)
    entry_stop: int | None = None

    def __str__(self) -> str:
        where = (
            "" if self.entry_start is None else f" entries [{self.entry_start}, {self.entry_stop})"
        )
        return f"dataset {self.dataset!r}: {self.file}{where}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: dataset, file, entry range (None for a whole file) and reason."""
        return {
            "dataset": self.dataset,
            "file": self.file,
            "entry_start": self.entry_start,
            "entry_stop": self.entry_stop,
            "reason": self.reason,
        }


@dataclass
class FilesetRun:
    """The outputs of a run per dataset and everything that was left out."""

    outputs: dict[str, Any]
    failures: list[Failure] = field(default_factory=list)
    #: The runnable fileset that ran (coffea's format: steps, entries and UUID per file,
    #: the form per dataset where known), less what was left out: the
    #: ``preprocessed.json`` a workflow writes beside its outputs, an input of a later run.
    runnable: dict[str, Any] = field(default_factory=dict)

    @property
    def skipped_files(self) -> list[str]:
        """Files left out whole (they cannot be opened)."""
        return sorted({f.file for f in self.failures if f.entry_start is None})

    def report(self) -> list[dict[str, Any]]:
        """Every file and chunk left out, as JSON-ready rows."""
        return [f.to_dict() for f in self.failures]
