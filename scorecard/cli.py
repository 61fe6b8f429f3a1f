"""Command line and Hydra glue: the only module that imports Hydra.

  scorecard run [key=value ...]       compute the scorecard and write it to output.dir
  scorecard serve [key=value ...]     HTTP service answering from the latest scorecard in output.dir
  scorecard validate [key=value ...]  check config and input files without computing

Config dir: $XPOSURE_CONF_DIR, else ./conf when it exists, else <repo root>/conf; primary config
<conf>/scorecard/config.yaml.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hydra import compose as _hydra_compose
from hydra import initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from .config import ProfileConfig, ScorecardConfig
from .errors import ScorecardInputError

_REGISTERED = False


def _register() -> None:
    global _REGISTERED
    if not _REGISTERED:
        cs = ConfigStore.instance()
        cs.store(name="scorecard_schema", node=ScorecardConfig)
        cs.store(group="profile", name="profile_schema", node=ProfileConfig)
        _REGISTERED = True


def conf_dir() -> Path:
    env = os.environ.get("XPOSURE_CONF_DIR")
    if env:
        return Path(env).resolve()
    if Path("conf").is_dir():
        return Path("conf").resolve()
    return Path(__file__).resolve().parent.parent / "conf"


def compose(overrides: list[str] | None = None):
    """Compose the scorecard config (DictConfig validated against ScorecardConfig) from key=value overrides."""
    _register()
    root = conf_dir()
    sdir = root / "scorecard"
    if not (sdir / "config.yaml").exists():
        raise ScorecardInputError(str(sdir / "config.yaml"), "config", "primary scorecard config not found "
                                  "(set XPOSURE_CONF_DIR or run from the repository root)")
    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(sdir), version_base="1.3"):
            cfg = _hydra_compose(config_name="config", overrides=list(overrides or []))
    except Exception as exc:  # hydra/omegaconf errors: re-raise with the config source named
        if isinstance(exc, ScorecardInputError):
            raise
        raise ScorecardInputError(str(sdir), "overrides " + " ".join(overrides or []), str(exc)) from exc
    OmegaConf.set_readonly(cfg, False)
    return cfg


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scorecard", description="Counterparty toxicity scorecard")
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_ in (("run", "compute and write the scorecard"), ("serve", "serve the scorecard over HTTP"),
                        ("validate", "validate config and inputs")):
        sp = sub.add_parser(name, help=help_)
        sp.add_argument("overrides", nargs="*", help="Hydra overrides key=value, e.g. output.dir=PATH profile=hft")
        sp.add_argument("--debug", action="store_true", help="show the Python traceback of an unexpected error")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        cfg = compose(args.overrides)
        if args.command == "run":
            from .pipeline import run

            res = run(cfg)
            print(res.summary_text())
        elif args.command == "validate":
            from .pipeline import validate

            print(validate(cfg))
        else:
            from .server import serve

            serve(cfg)
    except ScorecardInputError as exc:
        print(f"scorecard: input error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug or an environment fault: one line, the traceback only with --debug
        if args.debug:
            raise
        print(f"scorecard: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
