"""Read egamma-cnn sample files with coffea NanoEvents.

:class:`EGammaSchema` (in :mod:`.schema`) turns the flat NanoAOD-style branches of a
sample file into collections with cross-references; :mod:`.methods` holds what the
collections can do (4-vectors, ``Electron.track``, ``Electron.matched_tracks``,
``Photon.tracks``, ``CaloCell.et``, ...). :func:`open_events` is a shortcut for the
usual ``NanoEventsFactory.from_root(...).events()`` call.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from coffea.nanoevents import NanoEventsFactory

from egamma_cnn.nanoevents.schema import EGammaSchema

__all__ = ["EGammaSchema", "open_events"]

#: Name of the TTree that egamma-cnn sample files store their events in.
TREE_NAME = "Events"


def open_events(
    path: str | os.PathLike[str],
    mode: Literal["eager", "virtual", "dask"] = "eager",
    **kwargs: Any,
) -> Any:
    """Open one egamma-cnn sample file as NanoEvents.

    Parameters
    ----------
    path : str or os.PathLike
        The ROOT file (a local path or any URL uproot reads); the events are read from
        its ``Events`` tree.
    mode : {"eager", "virtual", "dask"}
        coffea's NanoEvents backend: ``"eager"`` reads everything into awkward arrays,
        ``"virtual"`` reads branches on first access, ``"dask"`` returns a lazy
        dask-awkward array to ``.compute()``.
    **kwargs
        ``schemaclass`` (a subclass of :class:`EGammaSchema`, e.g. from
        ``EGammaSchema.with_identification``), or anything
        ``coffea.nanoevents.NanoEventsFactory.from_root`` takes, e.g.
        ``entry_start``/``entry_stop`` (eager and virtual), ``steps_per_file`` (dask),
        ``metadata`` or ``uproot_options``.

    Returns
    -------
    ak.Array or dask_awkward.Array
        The events, with the collections of :class:`EGammaSchema`.

    Examples
    --------
    >>> events = open_events("sample.root")  # doctest: +SKIP
    >>> events.Electron.matched_tracks.pt  # doctest: +SKIP
    """
    schemaclass = kwargs.pop("schemaclass", EGammaSchema)
    if not (isinstance(schemaclass, type) and issubclass(schemaclass, EGammaSchema)):
        raise TypeError(
            "open_events reads egamma-cnn files with EGammaSchema or a subclass of it "
            "(EGammaSchema.with_identification(...)); use NanoEventsFactory for others"
        )
    factory = NanoEventsFactory.from_root(
        {os.fspath(path): TREE_NAME}, schemaclass=schemaclass, mode=mode, **kwargs
    )
    return factory.events()
