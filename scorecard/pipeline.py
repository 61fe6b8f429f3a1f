"""scorecard.run(cfg): load and validate every input, compute metrics, score, write outputs.

All input and configuration checks happen before any metric is computed (ScorecardInputError otherwise), the
output folder included. Deterministic synthetic data (and a SYNTHETIC exposure-results fixture) are generated into
<output.dir>/data only with data.synthetic.enabled=true; no data, or a mistyped path, is an error.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from . import credit as credit_mod
from .aliases import build_alias_table, normalise
from .assemble import annual_notional, build_scorecard, credit_rows, sample_status
from .errors import ScorecardInputError
from .feedback import FeedbackStore
from .impact import impact_metrics
from .inputs import SCHEMAS, load_inputs, resolve_paths
from .limits import dynamic_multipliers
from .markouts import markout_metrics
from .outputs import check_output_dir, run_lock
from .pricing import capital_allocation
from .protocol import protocol_metrics
from .reliability import reliability_metrics, stressed_flags
from .shortfall import comparable_excess, decompose
from .skipping import skipping_metrics
from .slippage import slippage_metrics

CP_TABLES = ("executions", "rfq", "book", "headroom")


@dataclass
class ScorecardResult:
    scorecard: pd.DataFrame  # index counterparty
    metrics: pd.DataFrame  # long: counterparty, metric, value, se, lo, hi, n, unit
    unmatched: pd.DataFrame
    alerts: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    paths: dict[str, str] = field(default_factory=dict)
    impact: dict | None = None
    orders: pd.DataFrame | None = None  # implementation-shortfall decomposition per parent order

    def summary_text(self) -> str:
        cols = ["score", "class", "rank", "adverse_selection_bps", "excess_slippage_bps", "stress_fill_pct",
                "credit_score"]
        body = self.scorecard[[c for c in cols if c in self.scorecard]].round(2).to_string()
        return "\n".join([body, *self.notes, f"written to {self.paths.get('dir', '?')}"])


def validate_config(cfg) -> None:
    for key in ("headline", "reversion_short", "reversion_long", "max_staleness"):
        _duration(getattr(cfg.markouts, key), f"markouts.{key}")
    for i, h in enumerate(cfg.markouts.horizons):
        if _duration(h, f"markouts.horizons[{i}]") <= 0:
            raise ScorecardInputError("config", f"markouts.horizons[{i}]", f"horizon must be > 0, got {h}")
    for key, v in (("stress.max_staleness", cfg.stress.max_staleness), ("alerts.window", cfg.alerts.window),
                   ("skipping.max_staleness", cfg.skipping.max_staleness)):
        _duration(v, key)
    if not 0 < cfg.exposure.pfe_quantile < 1:
        raise ScorecardInputError("config", "exposure.pfe_quantile", "must be in (0, 1)")
    if not cfg.ci.z > 0:
        raise ScorecardInputError("config", "ci.z", "must be > 0")
    names = [b.name for b in cfg.composite.bands]
    missing = [n for n in names if n not in cfg.limits.multipliers]
    if missing:
        raise ScorecardInputError("config", "limits.multipliers", f"no multiplier for classes {missing}")


def _duration(s, key) -> int:
    try:
        return int(pd.Timedelta(str(s)).value)
    except ValueError as exc:
        raise ScorecardInputError("config", key, f"'{s}' is not a duration like 5s or 5min") from exc


def prepare_data(cfg, out_dir: Path, notes: list[str]) -> tuple[dict, str | None]:
    """Table paths and exposure results path. Synthetic data only with data.synthetic.enabled=true: a missing
    or mistyped data folder is an error naming the path, never a silent switch to synthetic data."""
    s = cfg.data.synthetic
    exposure = cfg.exposure.results
    if bool(getattr(s, "enabled", False)):
        given = [k for k in ("dir", *SCHEMAS) if getattr(cfg.data, k, None)]
        if given:
            raise ScorecardInputError("data config", "data.synthetic.enabled",
                                      f"synthetic data asked for but data files also given ({given}): choose one")
        from .synthetic import generate, write_tables
        from .synthetic_exposure import write_exposure_fixture

        data = generate(seed=int(s.seed), n_fills_per_cp=int(s.n_fills_per_cp), n_rfq=int(s.n_rfq))
        paths = write_tables(data, out_dir / "data", "csv")
        notes.append(f"SYNTHETIC data (data.synthetic.enabled) generated with seed {s.seed} into {out_dir / 'data'}")
        if exposure is None:
            exposure = write_exposure_fixture(out_dir / "data" / "exposure_results.h5",
                                              [asdict(p) for p in data.planted], seed=int(s.seed))
            notes.append("exposure results: SYNTHETIC fixture (not an engine run)")
    else:
        paths = resolve_paths(cfg.data)
    if exposure and not Path(exposure).exists():
        raise ScorecardInputError(str(exposure), "exposure.results", "no such file or folder")
    if exposure and Path(exposure).is_dir():
        found = sorted(Path(exposure).glob("*.h5"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise ScorecardInputError(str(exposure), "exposure.results", "folder has no *.h5 exposure results")
        exposure = str(found[-1])
        notes.append(f"exposure results: newest file in the folder, {exposure}")
    return paths, exposure


def load_all(cfg, out_dir: Path, notes: list[str]):
    """Everything read and validated; no metric computed yet."""
    validate_config(cfg)
    paths, exposure_path = prepare_data(cfg, out_dir, notes)
    inputs = load_inputs(paths)
    t = inputs.tables
    aliases = build_alias_table(t["counterparties"], t["aliases"], inputs.sources.get("aliases", "aliases"))
    reports = []
    for name in CP_TABLES:
        if t.get(name) is not None:
            t[name], rep = normalise(t[name], aliases, inputs.sources.get(name, name), cfg.data.unmatched)
            reports.append(rep)
    unmatched = pd.concat(reports, ignore_index=True) if reports else pd.DataFrame(columns=["table", "name", "rows"])
    for _, r in unmatched.iterrows():
        notes.append(f"unmatched counterparty name '{r['name']}' in {r['table']}: {r['rows']} rows "
                     f"({cfg.data.unmatched.name if hasattr(cfg.data.unmatched, 'name') else cfg.data.unmatched})")
    _cross_checks(t, inputs.sources)
    if t.get("rfq") is not None and t.get("regime") is None:
        raise ScorecardInputError("data config", "data.regime", "RFQ logs given without the regime (vol index) table")
    if (t.get("book") is None) != (t.get("headroom") is None):
        raise ScorecardInputError("data config", "data.book / data.headroom", "skipping cost needs both tables")
    credit = None
    if exposure_path:
        ds = credit_mod.load_exposure_results(exposure_path)
        ref = t["counterparties"].set_index("counterparty")
        ratings = ref["rating"] if "rating" in ref.columns else None
        cin = credit_mod.credit_inputs(ds, ref["pfe_limit"], float(cfg.exposure.pfe_quantile),
                                       float(cfg.exposure.pd_horizon_years), aliases.resolve, ratings,
                                       cfg.credit.rating_pds)
        credit = credit_mod.credit_scores(cin, cfg.credit)
        notes.append(f"credit from saved exposure results {exposure_path} (asof {ds.attrs.get('asof', '?')}); "
                     "sources: " + ", ".join(f"{k} <- {v}" for k, v in cin.attrs["sources"].items()))
        for cp, r in credit.iterrows():
            if not r["in_results"]:
                notes.append(f"{cp}: not in the exposure results (no netting set): no PFE, CVA, FVA, EAD, capital")
            if r["credit_missing"]:
                notes.append(f"{cp}: credit inputs missing ({r['credit_missing']})")
    else:
        notes.append("no exposure results: credit metrics absent, weights renormalised")
    return inputs, aliases, unmatched, credit


def _cross_checks(t: dict, sources: dict) -> None:
    """Relations between tables that would otherwise silently drop data from a metric."""
    ex = t["executions"]
    if t.get("instruments") is not None:
        missing = sorted(set(ex["instrument"]) - set(t["instruments"]["instrument"]))
        if missing:
            raise ScorecardInputError(sources.get("instruments", "instruments"), f"instruments {missing[:5]}",
                                      "traded in the executions but absent from the instrument reference data")
    no_quotes = sorted(set(ex["instrument"]) - set(t["quotes"]["instrument"]))
    if no_quotes:
        raise ScorecardInputError(sources.get("quotes", "quotes"), f"instruments {no_quotes[:5]}",
                                  "traded in the executions but have no top-of-book quotes (markouts impossible)")


def compute_metrics(inputs, cfg, z: float) -> tuple[pd.DataFrame, dict | None, pd.DataFrame]:
    t = inputs.tables
    ex = t["executions"]
    tb = cfg.ci.time_cluster or None
    parts = [markout_metrics(ex, t["quotes"], cfg.markouts, z, tb),
             slippage_metrics(ex, t["instruments"], cfg.slippage, z, tb)]
    imp, fit = impact_metrics(ex, t["instruments"], z, tb)
    parts.append(imp)
    orders = decompose(ex, t["quotes"], cfg.markouts.max_staleness)
    parts.append(comparable_excess(orders, t["instruments"], z, tb))
    if t.get("rfq") is not None:
        stressed = stressed_flags(t["rfq"], t["regime"], cfg.stress)
        parts += [reliability_metrics(t["rfq"], t["regime"], cfg.stress, z, tb),
                  protocol_metrics(t["rfq"], cfg.protocol, z, stressed)]
    if t.get("book") is not None:
        parts.append(skipping_metrics(ex, t["book"], t["headroom"], cfg.skipping, z))
    metrics = pd.concat([p for p in parts if not p.empty], ignore_index=True)
    if metrics.empty:
        raise ScorecardInputError("inputs", "all metrics", "no metric could be computed from the data given")
    metrics["status"] = sample_status(metrics, cfg.ci)
    fit_d = None if fit is None else {"intercept_bps": asdict(fit.intercept), "y": asdict(fit.y),
                                      "beta": asdict(fit.beta), "n": fit.n,
                                      "terms_bps": {k: asdict(v) for k, v in fit.terms.items()}}
    return metrics, fit_d, orders


def run(cfg) -> ScorecardResult:
    """The whole scorecard under an exclusive lock on output.dir (a concurrent run into it is refused)."""
    out_dir = check_output_dir(cfg.output.dir)
    with run_lock(out_dir):
        return _run(cfg, out_dir)


def _run(cfg, out_dir: Path) -> ScorecardResult:
    from .alerts import detect_alerts
    from .report import write_outputs

    notes: list[str] = []
    inputs, aliases, unmatched, credit = load_all(cfg, out_dir, notes)
    store = FeedbackStore(cfg.feedback.db or out_dir / "feedback.sqlite")
    overrides = store.active_overrides()
    z = float(cfg.ci.z)
    metrics, fit, orders = compute_metrics(inputs, cfg, z)
    if credit is not None:
        metrics = pd.concat([metrics, credit_rows(credit, z)], ignore_index=True)
    t = inputs.tables
    notional = annual_notional(t["executions"], t["counterparties"])
    sc = build_scorecard(metrics, credit, t["counterparties"], notional, overrides, cfg)
    for _, r in metrics[metrics["status"] == "insufficient"].iterrows():
        notes.append(f"{r['counterparty']}: {r['metric']} insufficient (n={r['n']}, clusters={r['n_clusters']}): "
                     "reported, not scored")
    for cp, miss in sc["metrics_missing"].items():
        if miss:  # a weighted metric that is absent never drops out silently
            notes.append(f"{cp}: weighted metrics missing, weights renormalised over the rest: {miss}")
    if str(getattr(cfg.limits.mode, "value", cfg.limits.mode)) == "continuous":
        sc = sc.join(dynamic_multipliers(sc, store.last_state(cfg.profile.name), cfg.limits))
    sc = sc.join(capital_allocation(sc, cfg.pricing))
    now = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    # alerts compare with earlier scores under the SAME profile: another profile's weights are not a move
    alerts = detect_alerts(store.score_history(cfg.profile.name), sc, now, cfg.alerts.window,
                           float(cfg.alerts.max_move))
    store.record_scores(sc, now, cfg.profile.name)
    res = ScorecardResult(sc, metrics, unmatched, alerts, notes, impact=fit, orders=orders)
    res.paths = write_outputs(res, cfg, aliases, inputs.sources, now)
    return res


def validate(cfg) -> str:
    """Load and check config and inputs without computing metrics; returns a short report."""
    notes: list[str] = []
    out_dir = check_output_dir(cfg.output.dir)
    inputs, _, unmatched, credit = load_all(cfg, out_dir, notes)
    lines = [f"{k}: {len(v)} rows from {inputs.sources.get(k)}" for k, v in inputs.tables.items() if v is not None]
    if credit is not None:
        lines.append(f"credit inputs for {len(credit)} counterparties")
    return "\n".join(["inputs OK", *lines, *notes])
