"""Request bodies of the scorecard service (``server``): validated pydantic models, bounded and finite.

Prices (``mid``, quote ``price``) are positive and at most MAX_PRICE = 1e12 (price units of the instrument);
base-currency amounts (PFE, notional, capital, EAD) are >= 0 and at most MAX_AMOUNT = 1e15, so no sum or product
overflows; maturities in years (0, 100]; override expiry in days (0, 3660]. Names are 1 to 200 characters; lists
are bounded (quotes, candidates <= 1000, what-if trades <= 100). Unknown fields and non-finite numbers are
rejected (``Strict``), so an invalid body is a 422 before any computation.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class Side(str, Enum):
    buy = "buy"
    sell = "sell"


class FeedbackKind(str, Enum):
    override = "override"
    comment = "comment"


MAX_AMOUNT = 1e15  # base-currency amounts (PFE, notional, capital): bounded so no sum or product overflows
MAX_PRICE = 1e12
Name = Field(min_length=1, max_length=200)


class Strict(BaseModel):
    """Every request model: unknown fields are an error (a typo must not be ignored) and so is a non-finite
    number (JSON 1e999 parses to infinity; Infinity/NaN literals are not JSON but Python's parser accepts them)."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")


class Quote(Strict):
    counterparty: str = Name
    price: float = Field(gt=0, le=MAX_PRICE)


class RoutingRequest(Strict):
    side: Side
    mid: float = Field(gt=0, le=MAX_PRICE)
    quotes: list[Quote] = Field(min_length=1, max_length=1000)


class WhatifSpec(Strict):
    run: str = Field(min_length=1, max_length=200)  # a run folder under routing.engine_runs_dir
    trades: list[dict] = Field(min_length=1, max_length=100)  # the engine's portfolio format, without netting_set
    netting_sets: dict[str, str] | None = None  # counterparty -> netting set of the run (default: its only one)


class PretradeRequest(Strict):
    k: int = Field(ge=1, le=100)
    candidates: list[str] | None = Field(default=None, max_length=1000)
    additional_pfe: float = Field(default=0.0, ge=0, le=MAX_AMOUNT)
    whatif: WhatifSpec | None = None  # incremental PFE/CVA from the engine's what-if instead of additional_pfe


class LimitRequest(Strict):
    counterparty: str = Name
    additional_pfe: float = Field(default=0.0, ge=0, le=MAX_AMOUNT)


class PricingRequest(Strict):
    counterparty: str = Name
    notional: float = Field(gt=0, le=MAX_AMOUNT)
    maturity_years: float = Field(gt=0, le=100)
    capital: float | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    ead: float | None = Field(default=None, ge=0, le=MAX_AMOUNT)  # the trade's EAD: capital = EAD x Capital/EAD


class FeedbackRequest(Strict):
    counterparty: str = Name
    author: str = Field(min_length=1, max_length=200)
    kind: FeedbackKind
    field: str | None = Field(default=None, max_length=50)
    value: Annotated[str, StringConstraints(max_length=50)] | float | None = None
    comment: str = Field(default="", max_length=5000)
    expires_in_days: float | None = Field(default=None, gt=0, le=3660)
