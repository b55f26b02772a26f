"""Systematic uncertainties of the tag-and-probe scale factors: configuration checks,
hand-computed window variations, closure of the fit-model variations, correctionlib."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.special import voigt_profile

from egamma_cnn.processors.tag_and_probe import empty_histogram
from egamma_cnn.tnp import TnPConfig
from egamma_cnn.tnp.analysis import analyse
from egamma_cnn.tnp.efficiency import MIN_FIT_BINS, measure
from egamma_cnn.tnp.outputs import write_outputs
from egamma_cnn.tnp.plots import plot_all
from egamma_cnn.tnp.scale_factors import CORRECTION_NAME, VALTYPES, ScaleFactors
from egamma_cnn.tnp.systematics import (
    ANALYSIS_KEYS,
    SELECTION_KEYS,
    check_systematics,
    with_systematics,
)

MASS_RANGE = (60.0, 120.0)
#: One probe (E_T, η) bin with probes (30-50 GeV, 0 < η < 1) and an empty one (η < 0).
CONFIG = TnPConfig(
    probe_id=("good",),
    tag_id="good",
    probe_et_field="pt",
    probe_eta_field="eta",
    et_edges=(30.0, 50.0),
    eta_edges=(-1.0, 0.0, 1.0),
    probe_min_et=30.0,
)
#: The centres of the 60 one-GeV m_ee bins of the histograms.
CENTRES = np.arange(60.5, 120.0, 1.0)


def _config(systematics, **changes):
    return replace(CONFIG, systematics=systematics, **changes)


def _fill(h, passing, counts, truth=-1, weight=None):
    """Fill ``counts`` (per m_ee bin, integers unless weights) into the probe bin."""
    if weight is None:
        mass = np.repeat(CENTRES, np.round(counts).astype(int))
        h.fill(id="good", passing=passing, mass=mass, et=40.0, eta=0.5, opposite=True, truth=truth)
    else:
        h.fill(
            id="good",
            passing=passing,
            mass=CENTRES,
            et=40.0,
            eta=0.5,
            opposite=True,
            truth=truth,
            weight=weight,
        )
    return h


# -- the configuration -------------------------------------------------------------------


def test_good_systematics_are_accepted():
    good = {
        "alt_signal": {"signal": "bwcb"},
        "alt_background": {"background": "polynomial"},
        "narrow_fit": {"fit_range": [70, 110]},
        "tight_tag": {"tag_id": "good and pt > 35", "tag_min_pt": 35},
        "Tag_30": {"tag_min_pt": 30.0, "fit_range": (65.0, 115.0)},
        "same_as_nominal": {"signal": "template"},  # δ = 0: allowed
    }
    check_systematics(good, MASS_RANGE)
    check_systematics(good, MASS_RANGE, "fit")
    counting = {
        "wide_window": {"signal_window": [75, 105]},
        "near_sidebands": {"sidebands": [[65, 75], [105, 115]]},
        "no_subtraction": {"sidebands": []},
        "both": {"signal_window": [84, 98], "sidebands": [(60, 70), (110, 120)]},
    }
    check_systematics(counting, MASS_RANGE, "count", signal_window=(80, 100))
    check_systematics({}, MASS_RANGE, "count")
    assert ANALYSIS_KEYS.isdisjoint(SELECTION_KEYS)


@pytest.mark.parametrize(
    ("systematics", "method", "message"),
    [
        ([("a", {"signal": "bwcb"})], None, "must be a mapping of source names"),
        ({"a": "bwcb"}, None, "systematic 'a' must be a mapping of overrides"),
        ({"": {"signal": "bwcb"}}, None, "systematic name '' must be"),
        ({"_private": {"signal": "bwcb"}}, None, "not starting with _"),
        ({"a-b": {"signal": "bwcb"}}, None, "letters, digits and _"),
        ({"x" * 41: {"signal": "bwcb"}}, None, "1-40 letters"),
        ({"a b": {"signal": "bwcb"}}, None, "letters, digits and _"),
        ({1: {"signal": "bwcb"}}, None, "names must be strings"),
        ({"sf": {"signal": "bwcb"}}, None, "'sf' is reserved"),
        ({"SFUP": {"signal": "bwcb"}}, None, "'SFUP' is reserved"),
        ({"stat": {"signal": "bwcb"}}, None, "'stat' is reserved"),
        ({"syst": {"signal": "bwcb"}}, None, "'syst' is reserved"),
        ({"eta": {"signal": "bwcb"}}, None, "'eta' is reserved"),
        ({"a": {}}, None, "systematic 'a' has no overrides"),
        ({"a": {"window": [75, 105]}}, None, "systematic 'a': unknown key 'window'"),
        ({"a": {"signal": "gauss"}}, None, "signal must be 'template' or 'bwcb', got 'gauss'"),
        ({"a": {"background": 2}}, None, "background must be 'exponential' or"),
        ({"a": {"signal_window": [100, 80]}}, None, "signal_window must be an increasing pair"),
        ({"a": {"signal_window": "80-100"}}, None, "signal_window must be an increasing pair"),
        ({"a": {"signal_window": [80, 100, 120]}}, None, "increasing pair"),
        ({"a": {"signal_window": [80, math.nan]}}, None, "increasing pair"),
        ({"a": {"fit_range": [True, 100]}}, None, "fit_range must be an increasing pair"),
        ({"a": {"sidebands": [60, 70]}}, None, "sidebands must be a list of pairs"),
        ({"a": {"signal_window": [50, 100]}}, None, r"signal_window \[50, 100\] must be an"),
        ({"a": {"fit_range": [70, 130]}}, None, "fit_range .* inside mass_range"),
        ({"a": {"sidebands": [[55, 65]]}}, None, "sideband 1 .* inside mass_range"),
        (
            {"a": {"signal_window": [75, 105], "sidebands": [[60, 80]]}},
            None,
            "systematic 'a': sideband 1 .* overlaps the signal_window",
        ),
        (
            {"a": {"sidebands": [[60, 70], [65, 75]]}},
            None,
            "sideband 2 .* overlaps sideband 1",
        ),
        ({"a": {"tag_id": ""}}, None, "tag_id must be an ID specification"),
        ({"a": {"tag_id": 4}}, None, "tag_id must be an ID specification"),
        ({"a": {"tag_min_pt": -1}}, None, "tag_min_pt must be a number ≥ 0"),
        ({"a": {"tag_min_pt": "35"}}, None, "tag_min_pt must be a number"),
        (
            {"alt_signal": {"signal": "bwcb"}},
            "count",
            "systematic 'alt_signal' sets the fit's signal model .* but the method is 'count'; "
            "use --method fit",
        ),
        ({"a": {"fit_range": [70, 110]}}, "count", "use --method fit"),
        ({"a": {"sidebands": []}}, "fit", "the method is 'fit'; use --method count"),
        ({"a": {"signal": "bwcb"}}, "cut", "method must be 'count' or 'fit'"),
    ],
)
def test_bad_systematics_are_refused_naming_source_key_and_value(systematics, method, message):
    with pytest.raises(ValueError, match=message) as error:
        check_systematics(systematics, MASS_RANGE, method)
    assert "\n" not in str(error.value)


def test_a_window_is_checked_against_the_nominal_sidebands():
    # only the window changes: the nominal sidebands stay, and 65-75 overlaps 70-100
    with pytest.raises(ValueError, match=r"'wide': sideband 1 .* overlaps the signal_window"):
        check_systematics(
            {"wide": {"signal_window": [70, 100]}},
            MASS_RANGE,
            signal_window=(80, 100),
            sidebands=((65, 75), (110, 120)),
        )


def test_the_analysis_refuses_a_source_its_method_cannot_apply():
    config = _config({"alt_signal": {"signal": "bwcb"}})
    h = _fill(empty_histogram(CONFIG), True, np.full(60, 2))
    with pytest.raises(ValueError, match="use --method fit"):
        analyse({"data": {"histogram": h}, "mc": {"histogram": h}}, config, method="count")


# -- the counting variations, by hand -----------------------------------------------------


def _quadratic_background_outputs(k=0.005):
    """Data: 400 passing and 200 failing signal probes at 90.5 GeV, and under the failing
    ones a background k (m − 90)² per 1-GeV bin (weights); MC: 450 + 50 signal probes."""
    data, mc = empty_histogram(CONFIG), empty_histogram(CONFIG)
    peak = (CENTRES == 90.5).astype(float)
    _fill(data, True, 400 * peak)
    _fill(data, False, 200 * peak)
    _fill(data, False, None, weight=k * (CENTRES - 90.0) ** 2)
    _fill(mc, True, 450 * peak, truth=1)
    _fill(mc, False, 50 * peak, truth=1)
    return {"data": {"histogram": data}, "mc": {"histogram": mc}}


def test_a_window_variation_on_a_curved_background_moves_the_sf_by_the_hand_value():
    k = 0.005
    centres = [60.5 + i for i in range(60)]
    window = sum((m - 90) ** 2 for m in centres if 80 < m < 100)
    wide = sum((m - 90) ** 2 for m in centres if 75 < m < 105)
    sides = sum((m - 90) ** 2 for m in centres if 60 < m < 70 or 110 < m < 120)
    # Σ (m−90)² over the bin centres: 2 Σ_{j<10} (j+½)², 2 Σ_{j<15} (j+½)², 2 Σ_{20≤j<30} (j+½)²
    assert (window, wide, sides) == (665.0, 2247.5, 12665.0)
    # S_fail = 200 + k (Σ_window − τ Σ_sidebands): the sidebands miss the curvature
    fail_nominal = 200 + k * (window - 1.0 * sides)  # τ = 20/20
    fail_wide = 200 + k * (wide - 1.5 * sides)  # τ = 30/20
    sf_nominal = (400 / (400 + fail_nominal)) / 0.9
    sf_wide = (400 / (400 + fail_wide)) / 0.9

    config = _config({"wide_window": {"signal_window": [75, 105]}})
    result = analyse(_quadratic_background_outputs(k), config, method="count")
    good = result.ids["good"]
    factors = good.scale_factors
    assert factors.value[0, 1] == pytest.approx(sf_nominal, rel=1e-12)
    assert good.varied_scale_factors["wide_window"].value[0, 1] == pytest.approx(sf_wide, rel=1e-12)
    assert factors.sources["wide_window"][0, 1] == pytest.approx(abs(sf_wide - sf_nominal))
    assert factors.syst[0, 1] == pytest.approx(abs(sf_wide - sf_nominal))
    assert good.efficiencies["data_wide_window"][1].signal_fail == pytest.approx(fail_wide)
    assert good.efficiencies["mc_wide_window"][1].efficiency == pytest.approx(0.9)
    # the nominal measurement is that of the configuration without systematics
    plain = analyse(_quadratic_background_outputs(k), CONFIG, method="count")
    plain_factors = plain.ids["good"].scale_factors
    np.testing.assert_array_equal(plain_factors.value, factors.value)
    np.testing.assert_array_equal(plain_factors.error, factors.error)
    assert plain_factors.sources == {} and np.nan_to_num(plain_factors.syst).max() == 0.0
    assert list(plain.ids["good"].efficiencies) == [
        key for key in good.efficiencies if "wide_window" not in key
    ]
    assert "systematics" not in plain.summary()["scale_factors"]["good"]


def test_with_systematics_defines_delta_where_a_variation_has_no_sf():
    nominal = ScaleFactors(
        "good",
        np.array([20.0, 40.0, 60.0]),
        np.array([0.0, 1.0]),
        np.array([[0.9], [np.nan]]),
        np.array([[0.05], [np.nan]]),
        missing=[(40.0, 60.0, 0.0, 1.0)],
    )
    failed = ScaleFactors(
        "good", nominal.et_edges, nominal.eta_edges, np.array([[np.nan], [np.nan]]), nominal.error
    )
    moved = ScaleFactors(
        "good", nominal.et_edges, nominal.eta_edges, np.array([[0.93], [1.2]]), nominal.error
    )
    factors = with_systematics(nominal, {"failed": failed, "moved": moved})
    # no varied SF where the nominal has one: δ = σ_stat there, and the bin is listed
    assert factors.sources["failed"][0, 0] == 0.05
    assert factors.unvaried == {"failed": [(20.0, 40.0, 0.0, 1.0)], "moved": []}
    assert factors.sources["moved"][0, 0] == pytest.approx(0.03)
    # no nominal SF: no δ either (the bin is 1 ± 1 in the correction)
    assert np.isnan(factors.sources["moved"][1, 0]) and np.isnan(factors.syst[1, 0])
    assert factors.syst[0, 0] == pytest.approx(math.hypot(0.05, 0.03))
    assert factors.total[0, 0] == pytest.approx(math.sqrt(0.05**2 * 2 + 0.03**2))
    summary = factors.summary()["systematics"]
    assert summary["failed"] == {
        "mean_delta": 0.05,
        "max_delta": 0.05,
        "bins_without_variation": 1,
    }
    other = ScaleFactors("good", np.array([20.0, 60.0]), nominal.eta_edges, *[np.ones((1, 1))] * 2)
    with pytest.raises(ValueError, match="'moved': the varied scale factors have another"):
        with_systematics(nominal, {"moved": other})


# -- correctionlib ----------------------------------------------------------------------


def test_every_variation_reads_back_through_correctionlib(tmp_path):
    import correctionlib

    systematics = {
        "wide_window": {"signal_window": [75, 105]},
        "near_sidebands": {"sidebands": [[65, 75], [105, 115]]},
        "empty_window": {"signal_window": [80, 82]},  # no signal: no varied SF
    }
    config = _config(systematics)
    result = analyse(_quadratic_background_outputs(), config, method="count")
    factors = result.ids["good"].scale_factors
    assert factors.unvaried["empty_window"] == [(30.0, 50.0, 0.0, 1.0)]
    assert any("systematic empty_window: 1 of 1 bins" in line for line in result.warnings)
    assert factors.sources["empty_window"][0, 1] == factors.error[0, 1]  # δ = σ_stat
    written = {p.name for p in write_outputs(result, tmp_path)}
    assert "scale_factors.json" in written
    correction = correctionlib.CorrectionSet.from_file(str(tmp_path / "scale_factors.json"))[
        CORRECTION_NAME
    ]

    def read(valtype, eta=0.5):
        return correction.evaluate(valtype, "good", eta, 40.0)

    sf, stat = factors.value[0, 1], factors.error[0, 1]
    deltas = {name: factors.sources[name][0, 1] for name in systematics}
    syst = math.sqrt(sum(d**2 for d in deltas.values()))
    assert deltas["wide_window"] > 0 and deltas["near_sidebands"] > 0
    assert read("sf") == pytest.approx(sf, rel=1e-12)
    assert read("stat_up") == pytest.approx(sf + stat) and read("stat_down") == pytest.approx(
        sf - stat
    )
    assert read("syst_up") == pytest.approx(sf + syst)
    assert read("syst_down") == pytest.approx(max(sf - syst, 0.0))
    assert read("sfup") - read("sf") == pytest.approx(math.sqrt(stat**2 + syst**2))
    assert read("sfdown") == pytest.approx(max(sf - math.hypot(stat, syst), 0.0))
    for name, delta in deltas.items():
        assert read(f"{name}_up") == pytest.approx(sf + delta)
        assert read(f"{name}_down") == pytest.approx(sf - delta)
    # the bin without a measured SF: 1, every up 2 and every down 0
    valtypes = [*VALTYPES, *(f"{n}_{side}" for n in systematics for side in ("up", "down"))]
    for valtype in valtypes:
        expected = 1.0 if valtype == "sf" else 2.0 if valtype.endswith("up") else 0.0
        assert read(valtype, eta=-0.5) == expected, valtype
    for text in ("syst_up/syst_down: SF +/- sigma_syst", "wide_window (signal_window=[75, 105])"):
        assert text in correction.description
    assert "1 bins where the variation empty_window gives no SF" in correction.description
    table = json.loads((tmp_path / "scale_factors_table.json").read_text())["good"]
    assert table["syst"][0][1] == pytest.approx(syst) and table["syst"][0][0] is None
    assert table["sources"]["wide_window"][0][1] == pytest.approx(deltas["wide_window"])
    assert table["sources_without_variation"]["empty_window"] == [[30.0, 50.0, 0.0, 1.0]]
    summary = json.loads((tmp_path / "summary.json").read_text())["scale_factors"]["good"]
    assert summary["systematics"]["wide_window"]["mean_delta"] == pytest.approx(
        deltas["wide_window"]
    )
    assert summary["mean_syst"] == pytest.approx(syst)
    efficiencies = json.loads((tmp_path / "efficiencies.json").read_text())["good"]
    assert {f"{kind}_{name}" for kind in ("data", "mc") for name in systematics} <= set(
        efficiencies
    )
    plots = {p.name: p for p in plot_all(result, tmp_path)}
    assert plots["sf_good_systematics.png"].stat().st_size > 10_000


def test_without_systematics_the_file_has_stat_and_zero_syst(tmp_path):
    import correctionlib

    result = analyse(_quadratic_background_outputs(), CONFIG, method="count")
    write_outputs(result, tmp_path)
    correction = correctionlib.CorrectionSet.from_file(str(tmp_path / "scale_factors.json"))[
        CORRECTION_NAME
    ]
    sf = correction.evaluate("sf", "good", 0.5, 40.0)
    assert correction.evaluate("syst_up", "good", 0.5, 40.0) == sf
    assert correction.evaluate("stat_up", "good", 0.5, 40.0) == correction.evaluate(
        "sfup", "good", 0.5, 40.0
    )
    table = json.loads((tmp_path / "scale_factors_table.json").read_text())["good"]
    assert set(table) == {"working_point", "et_edges", "eta_edges", "sf", "error", "missing_bins"}
    assert "sf_good_systematics.png" not in {p.name for p in plot_all(result, tmp_path)}


# -- a changed tag selection ------------------------------------------------------------


def test_a_tag_selection_source_is_measured_on_its_variation_histograms():
    peak = (CENTRES == 90.5).astype(float)
    outputs = {}
    for kind, truth, nominal, tight in (
        ("data", -1, (80, 20), (70, 30)),  # the tighter tag: data ε 0.7 instead of 0.8
        ("mc", 1, (90, 10), (90, 10)),
    ):
        histogram = empty_histogram(CONFIG)
        _fill(histogram, True, nominal[0] * peak, truth)
        _fill(histogram, False, nominal[1] * peak, truth)
        varied = empty_histogram(CONFIG)
        _fill(varied, True, tight[0] * peak, truth)
        _fill(varied, False, tight[1] * peak, truth)
        outputs[kind] = {"histogram": histogram, "variations": {"tight_tag": varied}}
    config = _config({"tight_tag": {"tag_min_pt": 35.0}})
    factors = analyse(outputs, config).ids["good"].scale_factors
    assert factors.value[0, 1] == pytest.approx(0.8 / 0.9)
    assert factors.sources["tight_tag"][0, 1] == pytest.approx(0.1 / 0.9)
    # a source mixing both levels: its window applies to its variation histograms
    mixed = _config({"tight_tag": {"tag_min_pt": 35.0, "signal_window": [85, 95]}})
    assert analyse(outputs, mixed).ids["good"].scale_factors.sources["tight_tag"][
        0, 1
    ] == pytest.approx(0.1 / 0.9)
    del outputs["mc"]["variations"]
    with pytest.raises(ValueError, match=r"'tight_tag' changes the tag selection .* the mc output"):
        analyse(outputs, config)
    # one sample only: nothing to vary, said in a warning
    warnings = analyse({"data": outputs["data"]}, config).warnings
    assert [line for line in warnings if "systematics" in line] == [
        "systematics tight_tag not measured: they vary scale factors, which need data and MC"
    ]


# -- the fits: fit range and closure of the model variations -----------------------------


def _peak(tail=0.0):
    """A Z line shape (Breit–Wigner ⊗ Gaussian, σ = 2 GeV) per 1-GeV bin, normalised; with
    ``tail`` that fraction moved into a radiative tail e^{(m−91)/8} below the peak."""
    shape = voigt_profile(CENTRES - 91.19, 2.0, 2.4952 / 2)
    shape = shape / shape.sum()
    if tail:
        low = np.where(CENTRES < 91.0, np.exp((CENTRES - 91.0) / 8.0), 0.0)
        shape = (1 - tail) * shape + tail * low / low.sum()
    return shape


#: One probe bin for the fits (fewer fits: a fast test).
FIT_CONFIG = replace(CONFIG, eta_edges=(0.0, 1.0))


def _fit_outputs(fail_tail=0.0, fail_background=None):
    """Data: 4000 passing and 1500 failing probes (background 10 per bin under the passing
    ones, ``fail_background`` or 60 per bin under the failing ones); MC: the template
    shape, 8000 + 2000 true electrons. Expected counts rounded (no random numbers)."""
    data, mc = empty_histogram(FIT_CONFIG), empty_histogram(FIT_CONFIG)
    flat = np.full(60, 10.0)
    background = 6 * flat if fail_background is None else fail_background
    _fill(data, True, 4000 * _peak() + flat)
    _fill(data, False, 1500 * _peak(fail_tail) + background)
    _fill(mc, True, 8000 * _peak(), truth=1)
    _fill(mc, False, 2000 * _peak(), truth=1)
    return {"data": {"histogram": data}, "mc": {"histogram": mc}}


FIT_SOURCES = {"alt_signal": {"signal": "bwcb"}, "alt_background": {"background": "polynomial"}}


def _deltas(outputs):
    config = replace(FIT_CONFIG, systematics=FIT_SOURCES)
    factors = analyse(outputs, config, method="fit").ids["good"].scale_factors
    assert factors.unvaried == {"alt_signal": [], "alt_background": []}
    return {name: float(delta[0, 0]) for name, delta in factors.sources.items()}


def test_closure_an_injected_shape_difference_raises_its_systematic():
    curved = np.exp(-(CENTRES - 60.0) / 15.0)
    nominal = _deltas(_fit_outputs())
    # failing data probes with a radiative tail the MC template lacks: the analytic
    # signal (with a Crystal Ball tail) counts it as signal, the template as background
    tail = _deltas(_fit_outputs(fail_tail=0.3))
    # a steeply falling background under the failing probes: the polynomial cannot
    # follow the exponential it is
    steep = _deltas(_fit_outputs(fail_background=3000 * curved / curved.sum()))
    assert tail["alt_signal"] > 2 * nominal["alt_signal"] and tail["alt_signal"] > 0.005
    assert steep["alt_background"] > 10 * nominal["alt_background"]
    assert steep["alt_background"] > 0.005


def test_a_fit_range_fits_only_its_bins():
    outputs = _fit_outputs()
    data, mc = outputs["data"]["histogram"], outputs["mc"]["histogram"]
    assert FIT_CONFIG.mass_range == MASS_RANGE
    whole, fits = {}, {}
    (nominal,) = measure(data, "good", method="fit", mc_histogram=mc, fits=whole)
    (full,) = measure(data, "good", method="fit", mc_histogram=mc, fit_range=MASS_RANGE)
    assert full == nominal  # the whole range is the default
    (narrow,) = measure(data, "good", method="fit", mc_histogram=mc, fit_range=(70, 110), fits=fits)
    assert narrow.status == "ok" and narrow.efficiency != nominal.efficiency
    assert abs(narrow.efficiency - 4000 / 5500) < 0.01
    (fit,) = fits.values()
    outside = (CENTRES < 70) | (CENTRES > 110)
    assert np.isnan(fit.model_pass[outside]).all() and np.isfinite(fit.model_pass[~outside]).all()
    assert fit.counts_pass.sum() == data[{"id": "good", "passing": True}].sum().value
    with pytest.raises(ValueError, match=f"covers 4 m_ee bins .* at least {MIN_FIT_BINS}"):
        measure(data, "good", method="fit", mc_histogram=mc, fit_range=(88, 92))
