"""File names from ids are safe and unique; CSVs with ids are real CSV (exposure.files)."""

from __future__ import annotations

import csv
import io
import os

import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

from exposure.files import MAX_STEM, csv_text, safe_file_stem
from exposure.results_csv import write_ore_csv


def test_plain_ids_keep_their_names():
    for s in ("NS_A", "CP-1.x", "SWP_A2"):
        assert safe_file_stem(s) == s


@pytest.mark.parametrize("a,b", [("NS/1", "NS_1"), ("NS\\1", "NS/1"), ("a\nb", "a_b"), ("..", "__"), ("x" * 10000, "x" * 9999),
                                 ("NS:1", "NS*1"), (".hidden", "_hidden")])
def test_different_ids_never_share_a_file(a, b):
    assert safe_file_stem(a) != safe_file_stem(b)


@given(st.text(min_size=0, max_size=300))
def test_any_id_gives_a_short_safe_name(s):
    stem = safe_file_stem(s)
    assert stem and len(stem) <= MAX_STEM + 13
    assert "/" not in stem and "\\" not in stem and "\n" not in stem and "\x00" not in stem
    assert not stem.startswith(".")


@given(st.lists(st.text(max_size=20), min_size=2, max_size=6, unique=True))
def test_stems_are_unique(ids):
    assert len({safe_file_stem(s) for s in ids}) == len(ids)


@given(st.lists(st.lists(st.text(max_size=12), min_size=2, max_size=2), max_size=5))
def test_csv_text_round_trips_any_cells(rows):
    # the csv module cannot round-trip a lone '\r' inside unquoted text either way; it quotes it: check reading back
    back = list(csv.reader(io.StringIO(csv_text(("TradeId", "NPV"), rows), newline="")))
    assert back[0] == ["TradeId", "NPV"] and back[1:] == [[str(c) for c in r] for r in rows]


def _tiny_results(ids):
    from exposure.aggregation.measure_set import ExposureMeasures  # noqa: F401  (the contract's producer)

    n, K = len(ids), 2
    z = np.zeros((n, K))
    data = {name: (("netting_set", "date"), z) for name in ("EPE", "ENE", "ExpectedCollateral", "BaselEE", "BaselEEE",
                                                             "TimeWeightedBaselEPE", "TimeWeightedBaselEEPE",
                                                             "EE_stderr")}
    data["PFE"] = (("netting_set", "date", "quantile"), np.zeros((n, K, 1)))
    return xr.Dataset(data, coords={"netting_set": np.array(ids, dtype=object),
                                    "date": np.array(["2026-01-01", "2026-07-01"], dtype="datetime64[ns]"),
                                    "time": ("date", [0.0, 0.5]), "quantile": [0.95]})


def test_colliding_and_hostile_netting_set_ids_write_separate_files(tmp_path):
    ids = ["NS/1", "NS_1", "a,b\nc", "../../escape", "y" * 10000]
    files = write_ore_csv(_tiny_results(ids), str(tmp_path))
    assert len(set(files)) == len(ids) == len(os.listdir(tmp_path))
    assert all(os.path.dirname(f) == str(tmp_path) for f in files)
    for nid, f in zip(ids, files):
        with open(f, newline="") as fh:
            rows = list(csv.reader(fh))
        assert {r[0] for r in rows[1:]} == {nid} and all(len(r) == len(rows[0]) for r in rows)


def test_stems_in_one_folder_differ_case_insensitively_and_avoid_reserved_names():
    from exposure.files import file_stems

    stems = file_stems(["NS_A", "ns_a", "NS_B", "CON", "nul", "Ns/1"])
    folded = [s.casefold() for s in stems.values()]
    assert len(set(folded)) == len(folded)
    assert stems["NS_B"] == "NS_B"  # an id alone keeps its name
    assert "~" in stems["NS_A"] and "~" in stems["ns_a"] and "~" in stems["CON"] and "~" in stems["nul"]
