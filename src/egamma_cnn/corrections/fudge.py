"""Fudge factors as a correction: the file format and its application to MC columns.

Zumbihl's e/γ talk ("Shower shape studies"): the simulated shower shapes of electrons
differ from data, and ATLAS corrects ("fudges") them before the likelihood and the networks
see them. Per variable v and probe (E_T, η) bin, a shift and a width turn MC into data:
a fudged MC value is

    v' = c_data + w · (v − c_MC),

the MC distribution moved onto the data centre c_data and stretched by the ratio w of the
data and MC spreads. How the factors are measured is the data/MC study's business
(:mod:`egamma_cnn.datamc.fudge`); this module is what the runtime needs to apply them:

* :class:`FudgeFactors` — the table of one variable on an (E_T, η) grid;
* :func:`apply_fudge` — v' from a table (the edge bins outside the binning);
* :func:`write_correctionlib` — every table as one correctionlib (schema v2)
  ``Correction`` ``"egamma_cnn_fudge"`` with inputs (variable, η, E_T, value) whose
  output is the fudged value (a TFormula per bin);
* :class:`FudgeFile` — such a file applied inside the feature computation, so that
  ``EGammaSchema.with_identification(fudge=path)`` gives fudged shower shapes, and a
  likelihood and a CNN that see fudged high-level variables: "fudged MC" without a
  second copy of the sample.
"""

from __future__ import annotations

import json
import os
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import correctionlib
import correctionlib.schemav2 as cs
import numpy as np

from egamma_cnn.corrections.writing import grid_to_json, write_correction
from egamma_cnn.filecache import (
    FileChangedError,
    FileIdentity,
    PathPickled,
    _difference,
    cached_content,
)

__all__ = [
    "CORRECTION_NAME",
    "FudgeFactors",
    "FudgeFile",
    "apply_fudge",
    "write_correctionlib",
]

#: Name of the correction in the JSON.
CORRECTION_NAME = "egamma_cnn_fudge"


@dataclass
class FudgeFactors:
    """Shift and width factors of one variable on an (E_T, η) grid: ``shift[et, eta]``.

    ``centre_mc``/``centre_data`` are the medians (or means) per bin, ``width`` the ratio of
    the spreads; ``estimator`` says which.
    """

    variable: str
    et_edges: np.ndarray
    eta_edges: np.ndarray
    centre_mc: np.ndarray
    centre_data: np.ndarray
    width: np.ndarray
    estimator: str = "quantiles"
    source: Any = None

    @property
    def shift(self) -> np.ndarray:
        """μ_data − μ_MC per bin."""
        return self.centre_data - self.centre_mc

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready table (NaN as None)."""

        return {
            "variable": self.variable,
            "et_edges": self.et_edges.tolist(),
            "eta_edges": self.eta_edges.tolist(),
            "shift": grid_to_json(self.shift),
            "width": grid_to_json(self.width),
            "centre_mc": grid_to_json(self.centre_mc),
            "centre_data": grid_to_json(self.centre_data),
            "estimator": self.estimator,
            "source": None if self.source is None else np.asarray(self.source).tolist(),
        }


def _bins(factors: FudgeFactors, et: np.ndarray, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    i = np.clip(
        np.searchsorted(factors.et_edges, et, side="right") - 1, 0, len(factors.et_edges) - 2
    )
    j = np.clip(
        np.searchsorted(factors.eta_edges, eta, side="right") - 1, 0, len(factors.eta_edges) - 2
    )
    return i, j


def apply_fudge(factors: FudgeFactors, values: Any, et: Any, eta: Any) -> np.ndarray:
    """v' = c_data + w (v − c_MC) with the factors of each value's (E_T, η) bin (clamped)."""
    values = np.asarray(values, np.float64)
    i, j = _bins(factors, np.asarray(et, np.float64), np.asarray(eta, np.float64))
    return factors.centre_data[i, j] + factors.width[i, j] * (values - factors.centre_mc[i, j])


def write_correctionlib(factors: Mapping[str, FudgeFactors], path: str | Path) -> Path:
    """The shift/width fudge factors of every variable as one correctionlib JSON (v2).

    Evaluate ``CorrectionSet.from_file(path)["egamma_cnn_fudge"].evaluate(variable, eta,
    et, value)`` to get the fudged value; outside the binning the edge bins apply.
    """
    if not factors:
        raise ValueError("no fudge factors to write")

    def binning(f: FudgeFactors) -> Any:
        content = []
        for j in range(len(f.eta_edges) - 1):  # η outer, E_T inner (inputs order)
            for i in range(len(f.et_edges) - 1):
                content.append(
                    cs.Formula(
                        nodetype="formula",
                        expression="[0]+[1]*(x-[2])",
                        parser="TFormula",
                        variables=["value"],
                        parameters=[
                            float(f.centre_data[i, j]),
                            float(f.width[i, j]),
                            float(f.centre_mc[i, j]),
                        ],
                    )
                )
        return cs.MultiBinning(
            nodetype="multibinning",
            inputs=["eta", "et"],
            edges=[f.eta_edges.tolist(), f.et_edges.tolist()],
            content=content,
            flow="clamp",
        )

    correction = cs.Correction(
        name=CORRECTION_NAME,
        version=1,
        description=(
            "egamma-cnn fudge factors: fudged = centre_data + width * (value - centre_mc) "
            "per variable and probe (eta, E_T) bin"
        ),
        inputs=[
            cs.Variable(name="variable", type="string", description="shower-shape name"),
            cs.Variable(name="eta", type="real", description="electron eta"),
            cs.Variable(name="et", type="real", description="electron E_T [GeV]"),
            cs.Variable(name="value", type="real", description="the MC value"),
        ],
        output=cs.Variable(name="fudged", type="real", description="the fudged value"),
        data=cs.Category(
            nodetype="category",
            input="variable",
            content=[cs.CategoryItem(key=name, value=binning(f)) for name, f in factors.items()],
        ),
    )
    return write_correction(correction, path)


class FudgeFile(PathPickled):
    """A fudge-factor correctionlib file, identified by its path and its content.

    What travels in a dask graph (it pickles as its path and the SHA-256 of the content
    it was opened with, :class:`egamma_cnn.filecache.PathPickled`) and what the feature,
    CNN and likelihood chunk functions apply: :meth:`apply` replaces every variable the
    file has factors for by its fudged value, v' = c_data + w (v − c_MC) in the
    candidate's (E_T, η) bin (the edge bins outside the binning).

    The object keeps the bytes it read when it was made and applies the factors of that
    content for its whole life, whatever happens to the file afterwards: the
    correctionlib evaluator is built from those bytes once per content per process
    (:func:`egamma_cnn.filecache.cached_content`, keyed by the SHA-256), never from the
    path again. A process that unpickles it reads the file and checks the content: a
    file rewritten after the run started (a new ``egamma-cnn datamc`` into the same
    folder) is an error (:class:`~egamma_cnn.filecache.FileChangedError`), never a
    silent mix of old and new factors.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`write_correctionlib` (``egamma-cnn datamc`` writes
        ``fudge_factors.json``).
    digest : str, optional
        The SHA-256 the content must have (what unpickling passes).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        The file is not a correctionlib set with an ``egamma_cnn_fudge`` correction.
    FileChangedError
        Its content is not the one of ``digest`` (a ``ValueError``).
    """

    _identity_by_content = True

    def __init__(self, path: str | os.PathLike[str], digest: str | None = None) -> None:
        self.path = os.path.abspath(os.fspath(path))
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"no fudge-factor file {self.path}")
        self.identity, self._content = FileIdentity.read(self.path)
        self.digest: str = self.identity.digest or ""
        if digest is not None:  # the content it must have (only the digests are compared)
            what = _difference((self.identity.size, self.identity.mtime_ns, digest), self.identity)
            if what is not None:
                raise FileChangedError(
                    f"the fudge-factor file {self.path} changed after the run started "
                    f"({what}); rerun to use the new one"
                )
        self.variables = _fudge_variables(self.path, self._content)

    @classmethod
    def _open(cls, identity: FileIdentity, where: str, settings: tuple[Hashable, ...]) -> FudgeFile:
        return cls(identity.path, digest=identity.digest)

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        return ("egamma_cnn.FudgeFile", self.digest)

    def __repr__(self) -> str:
        return f"FudgeFile({self.path!r}, variables={list(self.variables)})"

    def apply(
        self, columns: Mapping[str, np.ndarray], et: np.ndarray, eta: np.ndarray
    ) -> dict[str, np.ndarray]:
        """``columns`` with every variable of the file fudged (the others as they are).

        ``et`` [GeV] and ``eta`` are the candidates' cluster E_T and η, the probe
        binning the factors were derived in. The factors are those of the content the
        object was made with.
        """
        correction = cached_content(_fudge_correction, self.digest, self._content)
        out = dict(columns)
        et = np.asarray(et, np.float64)
        eta = np.asarray(eta, np.float64)
        for name in self.variables:
            if name not in out:
                continue
            values = np.asarray(out[name], np.float64)
            if len(values) == 0:
                continue
            fudged = correction.evaluate(name, eta, et, values)
            out[name] = np.asarray(fudged, dtype=np.asarray(out[name]).dtype)
        return out


def _fudge_variables(path: str, content: bytes) -> tuple[str, ...]:
    try:
        data = json.loads(content)
        corrections = {c["name"]: c for c in data["corrections"]}
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{path} is not a correctionlib JSON file") from None
    if CORRECTION_NAME not in corrections:
        raise ValueError(
            f"{path} has no correction {CORRECTION_NAME!r} (it has {sorted(corrections)}); "
            "fudge factors are written by egamma-cnn datamc (fudge_factors.json)"
        )
    items = corrections[CORRECTION_NAME]["data"].get("content", [])
    return tuple(item["key"] for item in items)


def _fudge_correction(content: bytes) -> Any:
    """The correctionlib evaluator of a fudge-factor file's content."""
    return correctionlib.CorrectionSet.from_string(content.decode())[CORRECTION_NAME]
