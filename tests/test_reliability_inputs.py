"""Bad inputs get one-line errors that name the culprit (issue 17): ID specifications,
impossible candidate values, files that ``validate`` cannot read, wrong types in a
tag-and-probe configuration, and a read-only installation without a writable home."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import awkward as ak
import dask_awkward as dak
import numpy as np
import pytest
import uproot
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

import egamma_cnn
from egamma_cnn.cli import main
from egamma_cnn.features import shower_shapes
from egamma_cnn.identification import electron_identification
from egamma_cnn.images import (
    MAX_ABS_CLUSTER_ETA,
    MAX_CLUSTER_ENERGY_GEV,
    electron_images,
    track_arrays,
)
from egamma_cnn.nanoevents import open_events
from egamma_cnn.processors.data_mc import DataMCProcessor
from egamma_cnn.processors.isolation import IsolationProcessor
from egamma_cnn.provenance import METADATA_KEY, MissingMetadataError, read_metadata
from egamma_cnn.sim.validation import validate
from egamma_cnn.tnp import IdSpec, TnPConfig, tag_probe_pairs

MC = Path(__file__).parent / "data" / "zee_mc.root"
SRC = Path(egamma_cnn.__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def events():
    return open_events(MC)


# --------------------------------------------------------------------------------------
# ID specifications: only the collection's columns
# --------------------------------------------------------------------------------------

ARRAY_ATTRIBUTES = ("ndim > 1", "type", "layout", "behavior", "mask", "fields", "nbytes > 0")


@pytest.mark.parametrize("spec", ARRAY_ATTRIBUTES)
def test_array_attributes_are_no_columns(events, spec):
    name = spec.split()[0]
    with pytest.raises(ValueError, match=rf"no column '{name}' for the ID .*columns: pt, eta"):
        IdSpec.parse(spec).evaluate(events.Electron)


def test_tag_id_ndim_no_longer_selects_every_electron(events):
    # was: every electron passed the tag ID (177 pairs instead of 138 in tnp)
    config = TnPConfig(tag_id="ndim > 1")
    with pytest.raises(ValueError, match="no column 'ndim' for the tag_id 'ndim > 1'"):
        tag_probe_pairs(events, config)


@pytest.mark.parametrize("spec", ["__class__", "_meta > 0", "pt/__len__ < 1", "cnn_tight and _x"])
def test_private_names_are_refused_when_parsed(spec):
    with pytest.raises(ValueError, match="is a private name, not a column"):
        IdSpec.parse(spec)
    with pytest.raises(ValueError, match="private name"):
        TnPConfig(tag_id=spec)
    with pytest.raises(ValueError, match="private name"):
        DataMCProcessor(ids=[spec])
    with pytest.raises(ValueError, match="private name"):
        IsolationProcessor(working_points={"mine": spec})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("cnn_score >= nan", "'nan' is not a finite number"),
        ("cnn_score >= inf", "'inf' is not a finite number"),
        ("ptvarcone30/pt < -inf", "'inf' is not a finite number"),
        ("cnn_score < 1e999", "the number '1e999' at character 13 is not finite"),
        ("", "empty ID specification"),
        ("   ", "empty ID specification"),
        ("cnn_score >= 4 lots", "unexpected 'lots' at character 16"),
    ],
)
def test_non_finite_and_empty_specifications(spec, message):
    with pytest.raises(ValueError, match=message):
        IdSpec.parse(spec)


def test_columns_fields_and_behaviours_still_work_eager_and_dask(events):
    electrons = events.Electron
    pt = ak.flatten(electrons.pt).to_numpy()
    tight = ak.flatten(electrons.cnn_tight).to_numpy()
    assert ak.flatten(IdSpec.parse("pt > 20").evaluate(electrons)).tolist() == (pt > 20).tolist()
    assert ak.flatten(IdSpec.parse("cnn_tight").evaluate(electrons)).tolist() == tight.tolist()
    et = ak.flatten(electrons.cluster_et).to_numpy()
    passes = IdSpec.parse("cluster_et > 25 and cnn_tight").evaluate(electrons)
    assert ak.flatten(passes).tolist() == ((et > 25) & tight).tolist()
    lazy = open_events(MC, mode="dask").Electron
    assert ak.flatten(IdSpec.parse("cnn_tight").evaluate(lazy).compute()).tolist() == (
        tight.tolist()
    )
    with pytest.raises(ValueError, match="no column 'ndim'"):
        IdSpec.parse("ndim > 1").evaluate(lazy)
    # a behaviour that is no number per candidate (a record, a cross-reference)
    for spec in ("cnn_probs > 0", "genPart", "features"):
        with pytest.raises(ValueError, match="is not one number or boolean per candidate"):
            IdSpec.parse(spec).evaluate(electrons)


def test_nanoaod_schema_fields_and_coffea_behaviours():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        electrons = NanoEventsFactory.from_root(
            {str(MC): "Events"}, schemaclass=NanoAODSchema, mode="eager"
        ).events()["Electron"]
        passes = IdSpec.parse("energy > 30").evaluate(electrons)
    assert ak.flatten(passes).tolist() == (ak.flatten(electrons.energy) > 30).tolist()
    with pytest.raises(ValueError, match="no column 'layout'"):
        IdSpec.parse("layout").evaluate(electrons)
    # coffea's isTight is a column of NanoAOD electrons, computed from cutBased, which
    # these files lack: named, not an AttributeError
    with pytest.raises(ValueError, match="'isTight' of the ID 'isTight' cannot be computed"):
        IdSpec.parse("isTight").evaluate(electrons)


# --------------------------------------------------------------------------------------
# Impossible candidate values
# --------------------------------------------------------------------------------------

BAD_CANDIDATES = [
    ("clusterE", -50.0, "clusterE is -50 "),
    ("clusterE", 1e30, "clusterE is 1e+30"),
    ("clusterE", np.nan, "clusterE is nan"),
    ("clusterEta", 100.0, "clusterEta is 100 "),
    ("clusterEta", -np.inf, "clusterEta is -inf"),
    ("clusterPhi", 100.0, "clusterPhi is 100 "),
    ("clusterPhi", np.nan, "clusterPhi is nan"),
]


def _candidates_with(events, field: str, value: float) -> tuple[ak.Array, int, int]:
    """Plain electron records with one value replaced: (electrons, event, candidate)."""
    electrons = events.Electron
    counts = ak.num(electrons).to_numpy()
    event = int(np.flatnonzero(counts >= 2)[0])
    flat_index = int(counts[:event].sum()) + 1
    names = ("clusterEta", "clusterPhi", "clusterE", "trackIdx")
    names += tuple(f"trackIdx{k}" for k in range(1, 6))
    names += ("nTracks", "deltaEta1", "deltaPhiRescaled2")
    columns = {name: electrons[name] for name in names}
    values = ak.flatten(electrons[field]).to_numpy().astype(np.float32)
    values[flat_index] = value
    columns[field] = ak.unflatten(values, counts)
    return ak.zip(columns), event, 1


@pytest.mark.parametrize(("field", "value", "message"), BAD_CANDIDATES)
def test_impossible_candidate_values_are_refused(events, field, value, message):
    electrons, event, candidate = _candidates_with(events, field, value)
    where = rf"for candidate {candidate} of event {event} in this chunk; it must be finite"
    with pytest.raises(ValueError, match=re.escape(message.strip()) + " " + where):
        shower_shapes(events.CaloCell, electrons)
    with pytest.raises(ValueError, match=re.escape(message)):
        electron_identification(events.CaloCell, events.Track, electrons)
    if field == "clusterE":
        with pytest.raises(ValueError, match=re.escape(message)):
            track_arrays(events.Track, electrons)
    else:
        with pytest.raises(ValueError, match=re.escape(message)):
            electron_images(events.CaloCell, electrons)


def test_impossible_candidate_values_are_refused_under_dask(events):
    electrons, _, _ = _candidates_with(events, "clusterEta", 100.0)
    cells = dak.from_awkward(events.CaloCell, npartitions=2)
    lazy = dak.from_awkward(electrons, npartitions=2)
    shapes = shower_shapes(cells, lazy)  # the check runs in the partition function
    with pytest.raises(ValueError, match=r"clusterEta is 100 for candidate 1 of event"):
        shapes.compute()


def test_boundary_candidate_values_are_accepted(events):
    electrons = events.Electron
    counts = ak.num(electrons).to_numpy()
    n = int(counts.sum())
    edges = {
        "clusterE": np.float32(np.r_[0.0, MAX_CLUSTER_ENERGY_GEV, np.full(n - 2, 50.0)]),
        "clusterEta": np.float32(np.r_[MAX_ABS_CLUSTER_ETA, -MAX_ABS_CLUSTER_ETA, np.zeros(n - 2)]),
        "clusterPhi": np.float32(np.r_[np.pi, -np.pi, np.zeros(n - 2)]),  # float32 π > π
    }
    plain = ak.zip({k: ak.unflatten(v, counts) for k, v in edges.items()})
    assert len(shower_shapes(events.CaloCell, plain)) == len(events)
    assert MAX_ABS_CLUSTER_ETA == 2.5  # the outer edge of egamma_cnn.geometry


# --------------------------------------------------------------------------------------
# validate on files it cannot read
# --------------------------------------------------------------------------------------


def _copy_of_mc(path: Path, *, drop_prefix: str = "", tree: str = "Events", metadata=True):
    """The shipped MC file rewritten with branches dropped, another tree name or no
    provenance object."""
    with uproot.open(MC) as f:
        arrays = f["Events"].arrays(library="ak")
        document = str(f[METADATA_KEY])
    collections = {key[1:] for key in arrays.fields if key.startswith("n")}
    branches: dict = {}
    for key in arrays.fields:
        prefix = key.split("_", 1)[0]
        if (drop_prefix and key.startswith(drop_prefix)) or key[1:] in collections:
            continue
        if prefix in collections and "_" in key:
            branches.setdefault(prefix, {})[key.split("_", 1)[1]] = arrays[key]
        else:
            branches[key] = ak.to_numpy(arrays[key])
    branches = {k: ak.zip(v) if isinstance(v, dict) else v for k, v in branches.items()}
    with uproot.recreate(path) as out:
        out.mktree(tree, branches)
        if metadata:
            out[METADATA_KEY] = document
    return path


def test_validate_without_cell_branches_names_them(tmp_path):
    path = _copy_of_mc(tmp_path / "nocells.root", drop_prefix="CaloCell_")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"nocells.root: the 'Events' tree lacks the branches .*"):
        validate([path], out)
    with pytest.raises(ValueError, match="CaloCell_eta, CaloCell_phi, CaloCell_energy"):
        validate([MC], out, data_files=[path])
    assert not out.exists()  # checked before anything is written


def test_validate_without_metadata_or_tree(tmp_path):
    bare = _copy_of_mc(tmp_path / "bare.root", metadata=False)
    with pytest.raises(ValueError, match=rf"bare.root: no '{METADATA_KEY}' object .*has: Events"):
        validate([bare], tmp_path / "out")
    with pytest.raises(KeyError):  # still a KeyError for callers that caught it
        read_metadata(bare)
    assert isinstance(MissingMetadataError("x"), ValueError)
    other = _copy_of_mc(tmp_path / "other.root", tree="Tree")
    with pytest.raises(ValueError, match=r"other.root: no 'Events' tree.*has: Tree"):
        validate([other], tmp_path / "out")
    text = tmp_path / "text.root"
    text.write_text("not ROOT")
    with pytest.raises(OSError, match=r"text.root: not a readable ROOT file \(") as info:
        validate([text], tmp_path / "out")
    assert "\n" not in str(info.value)


def test_validate_cli_gives_one_line_and_exit_2(tmp_path, capsys):
    path = _copy_of_mc(tmp_path / "nocells.root", drop_prefix="CaloCell_")
    assert main(["validate", str(path), "--out-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("egamma-cnn: error: ") and "CaloCell_sampling" in err
    assert "\n" not in err and "could not find backend" not in err


# --------------------------------------------------------------------------------------
# Wrong types in --config
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"mass_bins": "sixty"}', "mass_bins must be an integer, got 'sixty'"),
        ('{"mass_bins": 60.5}', "mass_bins must be an integer, got 60.5"),
        ('{"et_edges": 5}', "et_edges must be a JSON list, got 5"),
        ('{"probe_id": "cnn_tight"}', 'probe_id must be a JSON list, got "cnn_tight"'),
        ('{"probe_id": [1]}', "probe_id must be a list of ID specifications"),
        ('{"tag_id": 4}', "tag_id must be a string, got 4"),
        ('{"tag_min_pt": NaN}', "tag_min_pt must be a finite number, got nan"),
        ('{"tag_min_pt": true}', "tag_min_pt must be a finite number, got True"),
        ('{"truth": 3}', "truth must be a string or null, got 3"),
        ('{"eta_edges": [0, "1"]}', r"eta_edges must be a list of finite numbers"),
        ('{"sidebands": [[60, 70], 5]}', "sidebands must be a list of pairs"),
        ('{"crack": [1.37]}', "crack must be a pair of finite numbers"),
        ("[1, 2]", "expected a JSON object of tag-and-probe settings, got a list"),
        ("{bad json", "not valid JSON"),
    ],
)
def test_config_of_the_wrong_type(tmp_path, content, message):
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(ValueError, match="config.json: " + message) as info:
        TnPConfig.from_json(path)
    assert "\n" not in str(info.value)


def test_a_good_config_still_reads(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"probe_id": ["cnn_tight"], "mass_bins": 30}))
    config = TnPConfig.from_json(path)
    assert config.probe_id == ("cnn_tight",) and config.mass_bins == 30


# --------------------------------------------------------------------------------------
# A read-only installation without a writable home (numba's cache)
# --------------------------------------------------------------------------------------

#: Run in a subprocess before the imports: every folder outside ALLOWED refuses new files,
#: as a read-only installation and home would (numba tests writability by making a file).
READ_ONLY = textwrap.dedent(
    """
    import os, tempfile
    allowed = os.path.realpath(os.environ["ALLOWED"])
    real = tempfile.TemporaryFile
    def refusing(*args, dir=None, **kwargs):
        if dir is None or not os.path.realpath(dir).startswith(allowed):
            raise PermissionError(13, "Permission denied (simulated read-only)", dir)
        return real(*args, dir=dir, **kwargs)
    tempfile.TemporaryFile = refusing
    """
)
PROBE = "import numba\n@numba.njit(cache=True)\ndef twice(x):\n    return 2 * x\n"


def _read_only_environment(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o555)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "cached_probe.py").write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "XDG_"))}
    env.update(HOME=str(home), TMPDIR=str(temporary), ALLOWED=str(temporary))
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "probe"), str(SRC)])
    return env


def test_import_without_writable_cache_folders(tmp_path):
    env = _read_only_environment(tmp_path)
    # the simulation is real: numba alone cannot decorate a cached function
    alone = subprocess.run(
        [sys.executable, "-c", READ_ONLY + "import cached_probe"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert alone.returncode != 0 and "cannot cache function" in alone.stderr
    script = READ_ONLY + textwrap.dedent(
        """
        import egamma_cnn.features, cached_probe
        assert cached_probe.twice(2) == 4
        print(os.environ["NUMBA_CACHE_DIR"])
        """
    )
    ours = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert ours.returncode == 0, ours.stderr
    cache = Path(ours.stdout.strip())
    assert cache == tmp_path / "tmp" / f"egamma-cnn-numba-{os.getuid()}"
    info = cache.lstat()
    assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.getuid()
    assert any(cache.rglob("*.nbi"))  # numba cached the probe there


def test_a_planted_cache_folder_of_others_is_not_used(tmp_path):
    env = _read_only_environment(tmp_path)
    planted = tmp_path / "tmp" / f"egamma-cnn-numba-{os.getuid()}"
    planted.mkdir(mode=0o777)
    planted.chmod(0o777)  # writable by everyone: refused
    script = READ_ONLY + "import egamma_cnn.features; print(os.environ['NUMBA_CACHE_DIR'])"
    run = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    used = Path(run.stdout.strip())
    assert used != planted and used.parent == tmp_path / "tmp"
    assert not used.exists()  # the fresh folder of that process is removed at its exit


@pytest.mark.skipif(
    hasattr(os, "getuid") and os.getuid() == 0,
    reason="as root, chmod a-w does not stop writes; the simulated test above covers it",
)
def test_read_only_copy_of_the_package(tmp_path):
    env = _read_only_environment(tmp_path)
    del env["ALLOWED"]
    copy = tmp_path / "site"
    shutil.copytree(
        SRC / "egamma_cnn", copy / "egamma_cnn", ignore=shutil.ignore_patterns("__pycache__")
    )
    env["PYTHONPATH"] = str(copy)
    folders = [copy, *(p for p in copy.rglob("*") if p.is_dir())]
    for folder in folders:
        folder.chmod(0o555)
    try:
        script = (
            "import os, egamma_cnn.features; print(egamma_cnn.__file__); "
            "print(os.environ['NUMBA_CACHE_DIR'])"
        )
        run = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        for folder in folders:
            folder.chmod(0o755)
    assert run.returncode == 0, run.stderr
    module, cache = run.stdout.split()
    assert module.startswith(str(copy))
    assert Path(cache).parent == tmp_path / "tmp"
