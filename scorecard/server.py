"""HTTP service (`scorecard serve`) for routers, EMS and pre-trade tools; answers from an in-memory snapshot.

Reads: GET /health, /v1/scorecard, /v1/counterparties/{name}, /v1/alerts, /v1/feedback/audit;
POST /v1/routing, /v1/pretrade, /v1/limits/check, /v1/pricing/addon (pure computations, no state change).
Writes (need `Authorization: Bearer <token>`): POST /v1/feedback, POST /v1/reload.
Errors are JSON {"error": message}: 401 missing/bad token, 404 unknown counterparty, 422 invalid body/parameter.
"""

from __future__ import annotations

import hmac
import json
import os
from enum import Enum
from pathlib import Path

import pandas as pd
from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from .errors import ScorecardInputError
from .feedback import FeedbackStore
from .limits import limit_check
from .pricing import price_addon
from .routing import best_k, rank_quotes
from .snapshot import SnapshotStore


class Side(str, Enum):
    buy = "buy"
    sell = "sell"


class FeedbackKind(str, Enum):
    override = "override"
    comment = "comment"


class Quote(BaseModel):
    counterparty: str = Field(min_length=1)
    price: float = Field(gt=0)


class RoutingRequest(BaseModel):
    side: Side
    mid: float = Field(gt=0)
    quotes: list[Quote] = Field(min_length=1)


class PretradeRequest(BaseModel):
    k: int = Field(ge=1, le=100)
    candidates: list[str] | None = None
    additional_pfe: float = Field(default=0.0, ge=0)


class LimitRequest(BaseModel):
    counterparty: str
    additional_pfe: float = Field(default=0.0, ge=0)


class PricingRequest(BaseModel):
    counterparty: str
    notional: float = Field(gt=0)
    maturity_years: float = Field(gt=0, le=100)
    capital: float | None = Field(default=None, ge=0)


class FeedbackRequest(BaseModel):
    counterparty: str
    author: str = Field(min_length=1, max_length=200)
    kind: FeedbackKind
    field: str | None = None
    value: str | float | None = None
    comment: str = Field(default="", max_length=5000)


class NotFound(Exception):
    def __init__(self, message: str):
        self.message = message


class Unauthorized(Exception):
    def __init__(self, message: str):
        self.message = message


def create_app(snapshot_path, feedback_db, token: str | None, routing_cfg, limits_cfg, pricing_cfg) -> FastAPI:
    store = SnapshotStore(snapshot_path)
    feedback = FeedbackStore(feedback_db)
    app = FastAPI(title="Counterparty toxicity scorecard", version="0.1.0")
    app.state.snapshots = store

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError):
        msgs = [f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in exc.errors()]
        return JSONResponse(status_code=422, content={"error": "invalid request: " + "; ".join(msgs)})

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
            raise Unauthorized("writes are disabled: no token configured on the server")
        if not authorization or not authorization.startswith("Bearer "):
            raise Unauthorized("missing bearer token (Authorization: Bearer <token>)")
        if not hmac.compare_digest(authorization[7:].encode(), token.encode()):
            raise Unauthorized("invalid token")

    def cp_of(snap, name: str) -> str:
        cp = snap.resolve(name)
        if cp is None:
            raise NotFound(f"unknown counterparty '{name}' (known: {sorted(snap.records)})")
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

    @app.post("/v1/pretrade")
    async def pretrade(req: PretradeRequest):
        s = store.get()
        cands = [cp_of(s, c) for c in req.candidates] if req.candidates else None
        ok = pd.Series({cp: _limit_ok(s.scorecard.loc[cp], limits_cfg, req.additional_pfe)
                        for cp in s.scorecard.index})
        sel = best_k(s.scorecard, req.k, tuple(routing_cfg.exclude_classes), cands, ok)
        return {"selected": [{"counterparty": cp, "score": float(r["score"]), "class": str(r["class"])}
                             for cp, r in sel.iterrows()]}

    @app.post("/v1/limits/check")
    async def limits(req: LimitRequest):
        s = store.get()
        cp = cp_of(s, req.counterparty)
        return limit_check(s.scorecard.loc[cp], limits_cfg.multipliers, req.additional_pfe)

    @app.post("/v1/pricing/addon")
    async def pricing(req: PricingRequest):
        s = store.get()
        cp = cp_of(s, req.counterparty)
        return price_addon(s.scorecard.loc[cp], req.notional, req.maturity_years, pricing_cfg, req.capital)

    @app.get("/v1/feedback/audit")
    def audit(counterparty: str | None = None):
        cp = cp_of(store.get(), counterparty) if counterparty else None
        return {"audit": json.loads(feedback.audit_trail(cp).to_json(orient="records"))}

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
            fid = feedback.add_override(cp, req.field, req.value, req.author, req.comment, bands)
        return {"id": fid, "counterparty": cp, "kind": req.kind.value,
                "note": "overrides apply from the next `scorecard run`"}

    @app.post("/v1/reload", dependencies=[Depends(require_token)])
    def reload():
        snap = store.reload()
        return {"version": snap.version, "computed_at": snap.computed_at, "counterparties": len(snap.records)}

    return app


def _json(obj) -> Response:
    return Response(json.dumps(obj, allow_nan=False), media_type="application/json")


def _limit_ok(row, limits_cfg, additional: float) -> bool:
    try:
        return bool(limit_check(row, limits_cfg.multipliers, additional)["ok"])
    except ScorecardInputError:
        return True  # no limit data: pre-trade does not block on a limit it cannot check


def resolve_token(server_cfg) -> str | None:
    return server_cfg.token or os.environ.get(server_cfg.token_env) or None


def app_from_config(cfg) -> FastAPI:
    out = Path(cfg.output.dir)
    return create_app(out / "snapshot.json", cfg.feedback.db or out / "feedback.sqlite", resolve_token(cfg.server),
                      cfg.routing, cfg.limits, cfg.pricing)


def serve(cfg) -> None:
    import uvicorn

    app = app_from_config(cfg)
    uvicorn.run(app, host=cfg.server.host, port=int(cfg.server.port), log_level=cfg.server.log_level,
                access_log=bool(cfg.server.access_log))
