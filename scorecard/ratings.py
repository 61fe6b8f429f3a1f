"""External credit ratings mapped to one-year default probabilities.

  rating_pd = table[grade(rating)], grade = the rating without its +/- notch and outlook ("BBB-" -> "BBB",
  "Baa3" -> "BBB" through the Moody's names); PD floored at 0.03% (Basel's PD floor for corporates).
The default table is rounded long-run one-year corporate default frequencies of the kind the agencies publish in
their annual default studies (AAA/AA below the floor, CCC and below around a quarter); configure
credit.rating_pds to use the firm's own master scale. An unknown rating is an error naming the counterparty.
"""

from __future__ import annotations

import math

from .errors import ScorecardInputError

PD_FLOOR = 0.0003
DEFAULT_PDS = {"AAA": 0.0003, "AA": 0.0003, "A": 0.0006, "BBB": 0.0018, "BB": 0.0070, "B": 0.0350,
               "CCC": 0.2500, "CC": 0.2500, "C": 0.2500, "D": 1.0, "SD": 1.0}
MOODYS = {"AAA": "AAA", "AA": "AA", "A": "A", "BAA": "BBB", "BA": "BB", "B": "B", "CAA": "CCC", "CA": "CC",
          "C": "C"}


def grade(rating: str) -> str:
    r = str(rating).strip().upper().rstrip("+-").rstrip("123")
    return MOODYS.get(r, r) if r not in DEFAULT_PDS else r


def rating_to_pd(rating, table=None, src: str = "counterparties", cp: str = "?") -> float:
    """One-year PD for a rating; NaN for an empty rating (reported as a missing input, not an error)."""
    if rating is None or (isinstance(rating, float) and math.isnan(rating)) or not str(rating).strip():
        return math.nan
    pds = {str(k).upper(): float(v) for k, v in dict(table or DEFAULT_PDS).items()}
    g = grade(rating)
    if g not in pds:
        raise ScorecardInputError(src, f"counterparty '{cp}' column 'rating'",
                                  f"unknown rating '{rating}' (known grades: {sorted(pds)})")
    return max(PD_FLOOR, min(1.0, pds[g]))
