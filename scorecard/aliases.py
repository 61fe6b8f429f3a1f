"""Counterparty name normalisation through the alias table.

key(name) = casefold(name) with runs of whitespace collapsed; a name maps to an id when key(name) equals the key
of a reference id, a reference legal name or an alias. Punctuation is NOT stripped, so "Broker A." and "Broker A"
stay different: two names are only merged when the alias table says so. Unmatched names are reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .config import UnmatchedPolicy
from .errors import ScorecardInputError


def name_key(name: str) -> str:
    return " ".join(str(name).split()).casefold()


@dataclass(frozen=True)
class AliasTable:
    mapping: dict  # key -> counterparty id
    ids: tuple

    def resolve(self, name: str) -> str | None:
        return self.mapping.get(name_key(name))


def build_alias_table(counterparties: pd.DataFrame, aliases: pd.DataFrame | None,
                      source: str = "aliases") -> AliasTable:
    """Map ids, legal names and aliases to ids; an alias pointing at an unknown id or at two ids is an error."""
    ids = tuple(counterparties["counterparty"].astype(str))
    mapping: dict[str, str] = {}

    def add(name, cp, where):
        k = name_key(name)
        if k in mapping and mapping[k] != cp:
            raise ScorecardInputError(source, where, f"name '{name}' maps to both '{mapping[k]}' and '{cp}'")
        mapping[k] = cp

    for cp in ids:
        add(cp, cp, f"counterparty '{cp}'")
    if "name" in counterparties.columns:
        for cp, nm in zip(ids, counterparties["name"].astype(str)):
            add(nm, cp, f"counterparty '{cp}' name")
    if aliases is not None:
        known = set(ids)
        for i, (al, cp) in enumerate(zip(aliases["alias"], aliases["counterparty"])):
            if cp not in known:
                raise ScorecardInputError(source, f"row {i + 1} (alias={al})",
                                          f"counterparty '{cp}' is not in the counterparty reference data")
            add(al, cp, f"row {i + 1} (alias={al})")
    return AliasTable(mapping, ids)


def normalise(df: pd.DataFrame, table: AliasTable, table_name: str, policy: UnmatchedPolicy,
              column: str = "counterparty") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replace names by ids. Returns (normalised df, unmatched report: table, name, rows)."""
    raw = df[column].astype(str)
    uniq = raw.unique()
    lut = {u: table.resolve(u) for u in uniq}
    ids = raw.map(lut)
    miss = ids.isna()
    report = (raw[miss].value_counts().rename_axis("name").reset_index(name="rows")
              .assign(table=table_name)[["table", "name", "rows"]])
    policy = UnmatchedPolicy(policy)
    if miss.any() and policy is UnmatchedPolicy.error:
        names = ", ".join(f"'{n}' ({r} rows)" for n, r in zip(report["name"], report["rows"]))
        raise ScorecardInputError(table_name, f"column '{column}'", f"names not in the alias table: {names}")
    out = df.copy()
    out["counterparty_raw"] = raw
    out[column] = ids.where(~miss, raw)
    if policy is UnmatchedPolicy.exclude:
        out = out[~miss.to_numpy()].reset_index(drop=True)
    else:
        out["unmatched"] = miss.to_numpy()
    return out, report
