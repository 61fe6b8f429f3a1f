"""A corpus of malformed configs, inputs and faults (issue 16, engine part): each gives exit code 2 and one
line ``error: ...`` naming the key, file or id and the problem, never a traceback; nothing is computed or written
for a bad input (``exposure validate`` finds what ``exposure run`` would only find after the simulation).

Each case: (name, command, book text or None (the small 3-set book), overrides, text the error must name).
``{tmp}`` in an override is the test's folder; ``{book}`` the book file.
"""

from __future__ import annotations

import contextlib
import io
import os

import pytest

from exposure.cli import main
from test_run_folder import BOOK3, TINY

LONG = "x" * 10000
BAD_TRADE = BOOK3.split("trades:")[0] + "trades:\n"


def _book(trade: str) -> str:
    return BAD_TRADE + "  - " + trade + "\n"


FX = ("{{id: {id}, type: FxForward, netting_set: NS_A, buy_currency: USD, buy_amount: {amt}, sell_currency: EUR, "
      "sell_amount: 1.0e+7, maturity: {mat}}}")

CASES = [
    # --- simulation settings
    ("paths zero", "validate", None, ["simulation.paths=0"], "simulation.paths"),
    ("paths negative", "validate", None, ["simulation.paths=-5"], "simulation.paths"),
    ("paths not a number", "validate", None, ["simulation.paths=abc"], "simulation.paths"),
    ("paths typo key", "validate", None, ["+simulation.path=20000"], "simulation.path"),
    ("unknown simulation key", "validate", None, ["simulation.pathz=5"], "simulation.pathz"),
    ("chunk size zero", "validate", None, ["simulation.chunk_size=0"], "simulation.chunk_size"),
    ("antithetic odd paths", "validate", None, ["simulation.antithetic=true", "simulation.paths=7"], "simulation.paths"),
    ("seed not a number", "validate", None, ["simulation.seed=abc"], "simulation.seed"),
    ("paths beyond RAM", "validate", None, ["simulation.paths=2000000000"], "memory_budget_gb"),
    ("simulate beyond RAM", "simulate", None, ["simulation.paths=2000000000"], "memory_budget_gb"),
    ("simulate quantiles empty", "simulate", None, ["output.quantiles=[]"], "output.quantiles"),
    ("paths beyond budget", "validate", None, ["simulation.paths=100000", "simulation.memory_budget_gb=0.0001"],
     "memory_budget_gb"),
    ("budget negative", "validate", None, ["simulation.memory_budget_gb=-1"], "simulation.memory_budget_gb"),
    ("grid garbage", "validate", None, ["simulation.grid=bogus"], "simulation.grid"),
    ("mpor garbage", "validate", None, ["simulation.mpor=xyz"], "simulation.mpor"),
    # --- outputs
    ("quantiles empty", "validate", None, ["output.quantiles=[]"], "output.quantiles"),
    ("quantile above one", "validate", None, ["output.quantiles=[1.5]"], "output.quantiles[0]"),
    ("quantile zero", "validate", None, ["output.quantiles=[0.9,0.0]"], "output.quantiles[1]"),
    ("quantile negative", "validate", None, ["output.quantiles=[-0.1]"], "output.quantiles[0]"),
    ("quantile repeated", "validate", None, ["output.quantiles=[0.95,0.95]"], "output.quantiles"),
    ("quantile not a number", "validate", None, ["output.quantiles=[high]"], "output.quantiles"),
    ("output dir is a file", "validate", None, ["output.dir={tmp}/afile"], "is not a folder"),
    ("output dir under a file", "validate", None, ["output.dir={tmp}/afile/run"], "is not a folder"),
    ("results.h5 is a folder", "validate", None, ["output.dir={tmp}/h5dir"], "results.h5"),
    ("results.h5 is a folder (run)", "run", None, ["output.dir={tmp}/h5dir"], "results.h5"),
    ("quantile above one (run)", "run", None, ["output.quantiles=[1.5]"], "output.quantiles[0]"),
    ("missing credit curve, fail", "validate", BOOK3.replace("counterparty: CP_E", "counterparty: CP_NOBODY"),
     ["xva.missing_credit=fail"], "market.credit.CP_NOBODY"),
    ("report quantile not computed", "validate", None, ["report.pfe_quantile=0.5"], "report.pfe_quantile"),
    # --- market
    ("asof garbage", "validate", None, ["market.asof=notadate"], "market.asof"),
    ("base currency unknown", "validate", None, ["market.base_currency=XXX"], "XXX"),
    ("fx vol 500% (fail)", "validate", None, ["market.fx_vols.EUR.vols=[5.0]", "market.fx_vols.EUR.tenors=[]",
                                              "market.sanity=fail"], "market.fx_vols.EUR"),
    ("hazard 200% (fail)", "validate", None, ["market.credit.CP_A.flat_hazard=2.0", "market.sanity=fail"],
     "market.credit.CP_A"),
    ("sanity mode unknown", "validate", None, ["market.sanity=bogus"], "market.sanity"),
    ("fx vol negative", "validate", None, ["market.fx_vols.EUR.vols=[-0.1]", "market.fx_vols.EUR.tenors=[]"],
     "EUR"),
    ("fx spot not a number", "validate", None, ["market.fx_spots.EUR=abc"], "market.fx_spots.EUR"),
    ("index day count unknown", "validate", None, ["market.indices.USD-LIBOR-3M.day_count=ACT/361"],
     "market.indices.USD-LIBOR-3M.day_count: unknown day count 'ACT/361'"),
    # --- portfolio files
    ("trades file missing", "validate", "MISSING", [], "nope.yaml"),
    ("trades file empty", "validate", "", [], "book.yaml"),
    ("trades file binary", "validate", b"\x00\xff\xfe\x89PNG\x00\x01", [], "book.yaml"),
    ("trades file UTF-16", "validate", BOOK3.encode("utf-16"), [], "book.yaml"),
    ("trades YAML syntax", "validate", "trades: [ {id: T1, type: Swap\n", [], "book.yaml"),
    ("trades not a list", "validate", "trades: 5\n", [], "book.yaml"),
    ("trade without notional", "validate", _book("{id: T1, type: FxForward, netting_set: NS_A, buy_currency: USD, "
                                                 "sell_currency: EUR, sell_amount: 1.0e+7, maturity: 1Y}"), [], "T1"),
    ("trade type unknown", "validate", _book("{id: T1, type: Swaption9, netting_set: NS_A}"), [], "T1"),
    ("trade amount not a number", "validate", _book(FX.format(id="T1", amt="lots", mat="1Y")), [], "T1"),
    ("trade maturity garbage", "validate", _book(FX.format(id="T1", amt="1.0e+7", mat="banana")), [], "T1"),
    ("trade currency unknown", "validate",
     _book("{id: T1, type: FxForward, netting_set: NS_A, buy_currency: XYZ, buy_amount: 1.0e+7, sell_currency: EUR,"
           " sell_amount: 1.0e+7, maturity: 1Y}"), [], "T1"),
    ("precision unknown", "validate", None, ["simulation.precision=float16"], "simulation.precision"),
    ("device unknown", "validate", None, ["simulation.device=tpu9"], "simulation.device"),
    ("output key typo", "validate", None, ["+output.quantile=[0.9]"], "output.quantile"),
    ("group added twice", "validate", None, ["+risk=ad"], "risk: the group is already in the defaults"),
    ("trade id 10,000 characters", "validate", _book(FX.format(id=LONG, amt="1.0e+7", mat="1Y")), [],
     "at most 256"),
    ("netting set id 300 characters", "validate", BOOK3.replace("NS_A", "N" * 300), [], "at most 256"),
    ("duplicate trade ids", "validate", BOOK3.replace("id: T2", "id: T1"), [], "T1"),
    ("trade's netting set not declared", "validate", BOOK3.replace("netting_set: NS_B", "netting_set: NS_BB"), [],
     "trade 'T2': netting_set: 'NS_BB' is not declared"),
    ("trade notional infinite", "validate", _book(FX.format(id="T1", amt=".inf", mat="1Y")), [], "T1"),
    ("trade notional NaN", "validate", _book(FX.format(id="T1", amt=".nan", mat="1Y")), [], "T1"),
    ("on_error unknown", "validate", None, ["portfolio.on_error=maybe"], "portfolio.on_error"),
    ("fixings file missing", "validate", None, ["portfolio.fixings={tmp}/nofix.csv"], "nofix.csv"),
    # --- faults while running
    ("notional 1e300 (non-finite result)", "run", BOOK3.replace("buy_amount: 2.2e+7", "buy_amount: 1.0e+300"), [],
     "NS_C"),
    ("concurrent run into the same folder", "run", None, ["output.dir={tmp}/locked"], "another run"),
]


@pytest.mark.parametrize("name,cmd,book,overrides,needle", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_clear_line(tmp_path, name, cmd, book, overrides, needle):
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "h5dir" / "results.h5").mkdir(parents=True)
    path = tmp_path / "book.yaml"
    if book == "MISSING":
        path = tmp_path / "nope.yaml"
    elif isinstance(book, bytes):
        path.write_bytes(book)
    else:
        path.write_text(BOOK3 if book is None else book)
    args = [cmd, f"portfolio.trades={path}", f"output.dir={tmp_path / 'run'}", *TINY]
    args += [o.format(tmp=tmp_path) for o in overrides]
    err, out = io.StringIO(), io.StringIO()
    with contextlib.ExitStack() as stack:
        if "another run" in needle:
            from filelock import FileLock

            stack.enter_context(FileLock(str(tmp_path / ".locked.lock")))
        stack.enter_context(contextlib.redirect_stderr(err))
        stack.enter_context(contextlib.redirect_stdout(out))
        rc = main(args)
    text = err.getvalue()
    assert rc == 2, (name, out.getvalue(), text)
    assert "Traceback" not in text
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), text
    assert needle in lines[0], (needle, lines[0])
    assert not os.path.exists(tmp_path / "run"), "a bad input must not leave a run folder"


def test_corpus_size():
    assert len(CASES) + len(STORED) >= 60


def _stored(tmp_path, files: dict):
    run = tmp_path / "stored"
    run.mkdir()
    for name, content in files.items():
        (run / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return run


STORED = [
    ("report: results.h5 not HDF5", ["report"], {"results.h5": b"garbage"}, "results.h5"),
    ("report: results.h5 empty", ["report"], {"results.h5": b""}, "results.h5"),
    ("report: no results.h5", ["report"], {}, "no results.h5"),
    ("aggregate: not a run folder", ["aggregate"], {"results.h5": b"x"}, "config.yaml"),
    ("aggregate: netting_values.h5 not HDF5", ["aggregate"], {"config.yaml": "CONFIG", "netting_values.h5": b"junk"},
     "netting_values.h5"),
    ("aggregate: scenario change refused", ["aggregate", "{run}", "simulation.paths=99"], {"config.yaml": "CONFIG"},
     "simulation"),
    ("whatif: trade file missing", ["whatif", "{run}", "--netting-set", "NS_A", "--trade", "{run}/nope.yaml"],
     {"config.yaml": "CONFIG", "netting_values.h5": b"junk"}, "nope.yaml"),
]


@pytest.mark.parametrize("name,args,files,needle", STORED, ids=[c[0] for c in STORED])
def test_bad_stored_run_gives_one_clear_line(tmp_path, name, args, files, needle):
    from exposure import api
    from omegaconf import OmegaConf

    config = OmegaConf.to_yaml(api.compose([f"portfolio.trades={tmp_path}/b.yaml", *TINY]))
    run = _stored(tmp_path, {k: (config if v == "CONFIG" else v) for k, v in files.items()})
    argv = [a.format(run=run) for a in args] if len(args) > 1 else [args[0], str(run)]
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        rc = main(argv)
    text = err.getvalue()
    assert rc == 2 and "Traceback" not in text, (name, text)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], text
