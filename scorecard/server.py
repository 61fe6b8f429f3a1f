"""HTTP service (`scorecard serve`) for routers, EMS and pre-trade tools; answers from an in-memory snapshot.

Reads: GET /health, /v1/scorecard, /v1/counterparties/{name}, /v1/alerts;
POST /v1/routing, /v1/pretrade, /v1/limits/check, /v1/pricing/addon (pure computations, no state change).
Need `Authorization: Bearer <token>`: POST /v1/feedback, GET /v1/feedback/audit and /v1/feedback/overrides
(they hold names and comments), DELETE /v1/feedback/overrides/{id} (withdraw), POST /v1/reload.
Errors are JSON {"error": message}: 401 missing/bad token, 404 unknown counterparty or override, 422 invalid
body/parameter. Request models reject unknown fields and non-finite numbers (JSON 1e999, Infinity, NaN) and bound
every number, so no request reaches a computation that could overflow; every answer is strict JSON.
Limit and pre-trade decisions fail closed: a counterparty whose limit cannot be checked is refused, with the reason.
"""

from __future__ import annotations

import hmac
import json
import os
from pathlib import Path

import pandas as pd
from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.concurrency import run_in_threadpool

from .api_models import (FeedbackKind, FeedbackRequest, LimitRequest, PretradeRequest, PricingRequest, RoutingRequest,
                         Side)
from .errors import ScorecardInputError
from .feedback import FeedbackStore
from .limits import limit_check
from .pricing import price_addon
from .routing import pretrade_select, rank_quotes
from .snapshot import SnapshotStore


class NotFound(Exception):
    def __init__(self, message: str):
        self.message = message


class Unauthorized(Exception):
    def __init__(self, message: str):
        self.message = message


def create_app(snapshot_path, feedback_db, token: str | None, routing_cfg, limits_cfg, pricing_cfg,
               feedback_cfg=None, pfe_quantile: float = 0.95) -> FastAPI:
    store = SnapshotStore(snapshot_path)
    feedback = FeedbackStore(feedback_db)
    default_expiry = getattr(feedback_cfg, "override_expiry_days", None)
    app = FastAPI(title="Counterparty toxicity scorecard", version="0.1.0")
    app.state.snapshots = store
    app.state.feedback = feedback

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError):
        msgs = [f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in exc.errors()]
        return JSONResponse(status_code=422, content={"error": "invalid request: " + "; ".join(msgs)})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException):
        return JSONResponse(status_code=exc.status_code, content={"error": str(exc.detail)},
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(ScorecardInputError)
    async def _bad_input(_: Request, exc: ScorecardInputError):
        return JSONResponse(status_code=422, content={"error": str(exc)})

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound):
        return JSONResponse(status_code=404, content={"error": exc.message})

    @app.exception_handler(Unauthorized)
    async def _unauth(_: Request, exc: Unauthorized):
        return JSONResponse(status_code=401, content={"error": exc.message},
                            headers={"WWW-Authenticate": "Bearer"})

    def require_token(authorization: str | None = Header(default=None)) -> None:
        if not token:
            raise Unauthorized("disabled: no token configured on the server (writes and audit reads need one)")
        if not authorization or not authorization.startswith("Bearer "):
            raise Unauthorized("missing bearer token (Authorization: Bearer <token>)")
        if not hmac.compare_digest(authorization[7:].encode(), token.encode()):
            raise Unauthorized("invalid token")

    def cp_of(snap, name: str) -> str:
        cp = snap.resolve(name)
        if cp is None:
            raise NotFound(f"unknown counterparty '{name[:200]}' (known: {sorted(snap.records)})")
        return cp

    @app.get("/health")
    async def health():
        s = store.get()
        return {"status": "ok", "snapshot_version": s.version, "computed_at": s.computed_at,
                "counterparties": len(s.records)}

    # read answers are encoded once per snapshot (see snapshot.encoded): the hot path only looks up bytes
    @app.get("/v1/scorecard")
    async def scorecard():
        return Response(store.get().encoded["scorecard"], media_type="application/json")

    @app.get("/v1/counterparties/{name}")
    async def counterparty(name: str):
        s = store.get()
        return Response(s.encoded["cp:" + cp_of(s, name)], media_type="application/json")

    @app.get("/v1/alerts")
    async def alerts():
        return Response(store.get().encoded["alerts"], media_type="application/json")

    @app.post("/v1/routing")
    async def routing(req: RoutingRequest):
        s = store.get()
        quotes = [{"counterparty": cp_of(s, q.counterparty), "price": q.price} for q in req.quotes]
        ranked = rank_quotes(quotes, 1 if req.side is Side.buy else -1, req.mid, s.records, routing_cfg)
        best = ranked[0]["counterparty"] if ranked[0]["eligible"] else None
        return _json({"ranked": ranked, "best": best})

    def whatif_checks(s, req, cands) -> dict:
        from .whatif_limits import whatif_limit_checks

        w = req.whatif
        if req.additional_pfe:
            raise ScorecardInputError("pre-trade request", "additional_pfe", "give either additional_pfe or whatif")
        root = getattr(routing_cfg, "engine_runs_dir", None)
        if not root:
            raise ScorecardInputError("pre-trade request", "whatif", "disabled: routing.engine_runs_dir is not set")
        base = Path(str(root)).resolve()
        run = (base / w.run).resolve()
        if base not in run.parents:  # only the operator's run folders (they hold pickles: never a client's path)
            raise ScorecardInputError("pre-trade request", "whatif.run", f"'{w.run}' is not a run folder under "
                                                                         "routing.engine_runs_dir")
        named = {cp_of(s, k): v for k, v in (w.netting_sets or {}).items()}
        return whatif_limit_checks(s.scorecard, limits_cfg.multipliers, str(run), list(w.trades), cands, named,
                                   pfe_quantile, resolve=s.resolve)

    @app.post("/v1/pretrade")
    async def pretrade(req: PretradeRequest):
        s = store.get()
        cands = [cp_of(s, c) for c in req.candidates] if req.candidates else None
        if req.whatif is not None:
            checks = await run_in_threadpool(whatif_checks, s, req, cands)  # prices on the engine's scenarios
        else:
            checks = {cp: limit_check(s.scorecard.loc[cp], limits_cfg.multipliers, req.additional_pfe)
                      for cp in (cands or s.scorecard.index)}
        ok = pd.Series({cp: c["ok"] for cp, c in checks.items()}, dtype=bool)
        sel, why = pretrade_select(s.scorecard, req.k, tuple(routing_cfg.exclude_classes), cands, ok,
                                   {cp: c["reason"] for cp, c in checks.items()})
        out = {"selected": [{"counterparty": cp, "score": float(r["score"]), "class": str(r["class"])}
                            for cp, r in sel.iterrows()],
               "not_selectable": [{"counterparty": cp, "reason": r} for cp, r in why.items()]}
        if req.whatif is not None:
            keys = ("netting_set", "incremental_pfe", "incremental_cva", "pfe_peak", "proposed_pfe",
                    "effective_limit", "headroom", "ok", "reason")
            out["whatif"] = [{"counterparty": cp, **{k: c.get(k) for k in keys}} for cp, c in checks.items()]
        return _json(out)

    @app.post("/v1/limits/check")
    async def limits(req: LimitRequest):
        s = store.get()
        cp = cp_of(s, req.counterparty)
        return _json(limit_check(s.scorecard.loc[cp], limits_cfg.multipliers, req.additional_pfe))

    @app.post("/v1/pricing/addon")
    async def pricing(req: PricingRequest):
        s = store.get()
        cp = cp_of(s, req.counterparty)
        return _json(price_addon(s.scorecard.loc[cp], req.notional, req.maturity_years, pricing_cfg, req.capital,
                                 req.ead))

    @app.get("/v1/feedback/audit", dependencies=[Depends(require_token)])
    def audit(counterparty: str | None = None):
        cp = cp_of(store.get(), counterparty) if counterparty else None
        return _json({"audit": json.loads(feedback.audit_trail(cp).to_json(orient="records"))})

    @app.get("/v1/feedback/overrides", dependencies=[Depends(require_token)])
    def overrides():
        act = feedback.active_overrides()
        return _json({"overrides": json.loads(act.to_json(orient="records"))})

    @app.delete("/v1/feedback/overrides/{override_id}", dependencies=[Depends(require_token)])
    def withdraw(override_id: int, author: str, comment: str = ""):
        if not 0 < len(author) <= 200 or len(comment) > 5000:
            raise ScorecardInputError("withdraw request", "author/comment", "author 1-200 chars, comment <= 5000")
        if not feedback.has_active(override_id):
            raise NotFound(f"no active override with id {override_id}")
        feedback.remove_override(override_id, author, comment)
        return {"id": override_id, "withdrawn": True, "note": "takes effect from the next `scorecard run`"}

    @app.post("/v1/feedback", status_code=201, dependencies=[Depends(require_token)])
    def submit_feedback(req: FeedbackRequest):
        s = store.get()
        cp = cp_of(s, req.counterparty)
        if req.kind is FeedbackKind.comment:
            fid = feedback.add_comment(cp, req.author, req.comment)
        else:
            if req.field is None or req.value is None:
                raise ScorecardInputError("feedback", "field/value", "an override needs both field and value")
            bands = [b["name"] for b in s.bands] or ["Partner", "Monitor", "Toxic", "Restrict"]
            days = req.expires_in_days if req.expires_in_days is not None else default_expiry
            fid = feedback.add_override(cp, req.field, req.value, req.author, req.comment, bands,
                                        expires_in_days=days)
        return {"id": fid, "counterparty": cp, "kind": req.kind.value,
                "note": "overrides apply from the next `scorecard run`; one active override per counterparty "
                        "(a new one replaces it)"}

    @app.post("/v1/reload", dependencies=[Depends(require_token)])
    def reload():
        snap = store.reload()
        return {"version": snap.version, "computed_at": snap.computed_at, "counterparties": len(snap.records)}

    return app


def _json(obj) -> Response:
    """Strict JSON: a non-finite number in an answer is refused (422), never sent as a bare Infinity/NaN."""
    try:
        body = json.dumps(obj, allow_nan=False)
    except ValueError:
        raise ScorecardInputError("answer", "numbers", "the result is not a finite number for these inputs") from None
    return Response(body, media_type="application/json")


def resolve_token(server_cfg) -> str | None:
    return server_cfg.token or os.environ.get(server_cfg.token_env) or None


def app_from_config(cfg) -> FastAPI:
    out = Path(cfg.output.dir)
    return create_app(out / "snapshot.json", cfg.feedback.db or out / "feedback.sqlite", resolve_token(cfg.server),
                      cfg.routing, cfg.limits, cfg.pricing, cfg.feedback, float(cfg.exposure.pfe_quantile))


def serve(cfg) -> None:
    import uvicorn

    app = app_from_config(cfg)
    uvicorn.run(app, host=cfg.server.host, port=int(cfg.server.port), log_level=cfg.server.log_level,
                access_log=bool(cfg.server.access_log))
