"""``exposure`` command line: subcommands with Hydra overrides passed through.

    exposure run [key=value ...]        whole chain, writes output.dir
    exposure validate [key=value ...]   checks only; exit 0 if the config is valid, 2 otherwise
    exposure simulate [key=value ...]   scenarios only, written to output.dir/scenarios.h5
    exposure show [key=value ...]       print the composed config
"""

from __future__ import annotations

import sys

USAGE = __doc__


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    cmd, overrides = argv[0], argv[1:]
    from exposure import api
    from exposure.errors import ExposureError

    try:
        cfg = api.compose(overrides)
        if cmd == "show":
            from omegaconf import OmegaConf

            print(OmegaConf.to_yaml(cfg))
        elif cmd == "validate":
            s = api.validate(cfg)
            n = len(s.portfolio.trades) if s.portfolio is not None else 0
            print(f"config OK: {len(s.market.currencies)} currencies, {len(s.grid.dates)} dates, {n} trades")
        elif cmd == "simulate":
            import os

            from exposure.simulation.scenario_io import write_netcdf_atomic

            path = write_netcdf_atomic(api.simulate(cfg), os.path.join(str(cfg.output.dir), "scenarios.h5"))
            print(f"scenarios written to {path}")
        elif cmd == "run":
            res = api.run(cfg)
            print(res.summary())
        else:
            print(f"unknown command '{cmd}'\n{USAGE}", file=sys.stderr)
            return 2
    except ExposureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
