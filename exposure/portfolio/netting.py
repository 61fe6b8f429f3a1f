"""Netting sets and their CSA terms.

Amounts are in the CSA's collateral currency; thresholds and minimum transfer amounts are >= 0.
Variation margin target (two-way):  VM* = max(V - H_cpty, 0) - max(-V - H_bank, 0), rounded; a call is
made only when |VM* - VM| >= MTA. ``independent_amount_held`` reduces exposure; ``_posted`` adds to it
(posted collateral that is not segregated is lost on the counterparty's default).
"""

from __future__ import annotations

import dataclasses
import math

from exposure.errors import ConfigError

MARGINING = ("two_way", "cpty_posts", "bank_posts")


@dataclasses.dataclass(frozen=True)
class Csa:
    margining: str = "two_way"  # two_way | cpty_posts (one-way, in our favour) | bank_posts
    threshold_cpty: float = 0.0
    threshold_bank: float = 0.0
    mta_cpty: float = 0.0
    mta_bank: float = 0.0
    rounding: float = 0.0
    independent_amount_held: float = 0.0
    independent_amount_posted: float = 0.0
    collateral_currency: str | None = None  # None: the base currency
    initial_balance: float | None = None  # None: the t0 target (a fully margined start)

    @staticmethod
    def parse(d: dict, key: str, currencies) -> "Csa":
        known = {f.name for f in dataclasses.fields(Csa)}
        for k in d:
            if k not in known:
                raise ConfigError(f"{key}.{k}", f"unknown CSA field (known: {', '.join(sorted(known))})")
        d = dict(d)
        for k, v in d.items():
            # PyYAML reads 1.0e6 (no sign in the exponent) as a string: accept numeric strings.
            if isinstance(v, str) and k not in ("margining", "collateral_currency"):
                try:
                    d[k] = float(v)
                except ValueError:
                    raise ConfigError(f"{key}.{k}", f"must be a number (got '{v}')") from None
        out = Csa(**d)
        if out.margining not in MARGINING:
            raise ConfigError(f"{key}.margining", f"'{out.margining}' is not one of {', '.join(MARGINING)}")
        for name in ("threshold_cpty", "threshold_bank", "mta_cpty", "mta_bank", "rounding",
                     "independent_amount_held", "independent_amount_posted"):
            v = getattr(out, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ConfigError(f"{key}.{name}", f"must be a finite number >= 0 (got {v!r})")
        if out.collateral_currency is not None and out.collateral_currency not in currencies:
            raise ConfigError(f"{key}.collateral_currency", f"unknown currency '{out.collateral_currency}'")
        return out


@dataclasses.dataclass(frozen=True)
class NettingSet:
    id: str
    counterparty: str
    csa: Csa | None = None  # None: uncollateralised
    calendar: str | None = None  # the netting set's business days (close-out dates; None: unadjusted)

    def close_out_date(self, d, mpor: str):
        """The close-out date of a default on d: d + mpor (calendar days/months), rolled to the next
        business day of the netting set's calendar (following); unadjusted without a calendar."""
        from exposure.market.calendars import get_calendar
        from exposure.market.schedule import add_tenor

        end = add_tenor(d, mpor)
        return end if self.calendar is None else get_calendar(self.calendar).adjust(end, "following")


def parse_calendar(name, key: str) -> str:
    """The canonical name of calendar ``name``; ConfigError naming ``key`` if unknown."""
    from exposure.market.calendars import get_calendar

    try:
        return get_calendar(str(name)).name
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from None
