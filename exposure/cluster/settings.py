"""Settings of a distributed run, read from the ``cluster`` config node and checked before any compute.

    kind       none | local | dask
    address    the Dask scheduler (kind=dask), normalised to scheme://host:port
    workers, threads_per_worker, memory_limit      the LocalCluster (kind=local)
    in_flight  chunks submitted and not yet consumed (None: 2 x the cluster's worker threads); bounds memory at
               about in_flight x one chunk's outputs on the workers plus one in this process
    transfer   memory | spill (outputs through files in spill_dir, a folder every worker and this process see)
    keep_states  the chunk's model states travel back only when the run stores its cube (output.store_cube)
    lean       only the compiled reduction's sums (with the PFE input), t0 prices and checks travel back: set by
               the pipeline when nothing on the client reads the values (exposure.cluster.dispatch)
"""

from __future__ import annotations

import dataclasses
import socket
from urllib.parse import urlsplit

from exposure.errors import ConfigError

KINDS = ("none", "local", "dask")
TRANSFERS = ("memory", "spill")
SCHEMES = ("tcp", "tls", "ucx", "ws", "wss", "inproc")


@dataclasses.dataclass(frozen=True)
class ClusterSettings:
    kind: str = "none"
    address: str | None = None
    workers: int = 2
    threads_per_worker: int = 1
    memory_limit: str = "auto"
    in_flight: int | None = None
    transfer: str = "memory"
    spill_dir: str | None = None
    connect_timeout_s: float = 10.0
    keep_states: bool = False
    lean: bool = False  # values, numeraire, fx, trades and states stay on the workers (the consumer needs the sums)

    @property
    def distributed(self) -> bool:
        return self.kind != "none"


def _value(node, key, default):
    v = getattr(node, key, default) if node is not None else default
    v = getattr(v, "value", v)  # an Enum member from a structured config
    return default if v is None and default is not None else v


def cluster_settings(cfg) -> ClusterSettings:
    """ClusterSettings from a config with a ``cluster`` node (absent: this process) and ``output.store_cube``;
    a bad kind, address, count or transfer raises ConfigError naming the ``cluster.*`` key."""
    node = getattr(cfg, "cluster", None)
    kind = str(_value(node, "kind", "none"))
    if kind not in KINDS:
        raise ConfigError("cluster.kind", f"'{kind}' is not one of {', '.join(KINDS)}")
    s = ClusterSettings(
        kind=kind,
        address=_value(node, "address", None),
        workers=_count(node, "workers", 2),
        threads_per_worker=_count(node, "threads_per_worker", 1),
        memory_limit=str(_value(node, "memory_limit", "auto")),
        in_flight=None if _value(node, "in_flight", None) is None else _count(node, "in_flight", 1),
        transfer=str(_value(node, "transfer", "memory")),
        spill_dir=_value(node, "spill_dir", None),
        connect_timeout_s=float(_value(node, "connect_timeout_s", 10.0)),
        keep_states=bool(getattr(getattr(cfg, "output", None), "store_cube", False)))
    if s.transfer not in TRANSFERS:
        raise ConfigError("cluster.transfer", f"'{s.transfer}' is not one of {', '.join(TRANSFERS)}")
    if not s.connect_timeout_s > 0:
        raise ConfigError("cluster.connect_timeout_s", f"must be > 0 (got {s.connect_timeout_s})")
    if kind == "dask":
        s = dataclasses.replace(s, address=normalise_address(s.address))
        if s.transfer == "spill" and not s.spill_dir:
            raise ConfigError("cluster.spill_dir", "transfer=spill on a Dask cluster needs a folder that every "
                                                   "worker and this process see (shared storage)")
    return s


def _count(node, key, default) -> int:
    v = _value(node, key, default)
    try:
        n = int(v)
    except (TypeError, ValueError):
        raise ConfigError(f"cluster.{key}", f"must be a whole number (got {v!r})") from None
    if n < 1 or n != v:
        raise ConfigError(f"cluster.{key}", f"must be a whole number >= 1 (got {v!r})")
    return n


def normalise_address(address) -> str:
    """'host:port' or 'scheme://host:port' -> 'scheme://host:port' (tcp when no scheme), or ConfigError."""
    key = "cluster.address"
    if not address:
        raise ConfigError(key, "required with cluster=dask: the Dask scheduler, e.g. tcp://10.0.0.5:8786")
    text = str(address).strip()
    if "://" not in text:
        text = "tcp://" + text
    parts = urlsplit(text)
    if parts.scheme not in SCHEMES:
        raise ConfigError(key, f"'{address}': scheme '{parts.scheme}' is not one of {', '.join(SCHEMES)}")
    if parts.scheme == "inproc":
        return text
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not parts.hostname or port is None or not 0 < port < 65536 or parts.path not in ("", "/"):
        raise ConfigError(key, f"'{address}' is not scheme://host:port (e.g. tcp://10.0.0.5:8786)")
    return f"{parts.scheme}://{parts.netloc}"


def check_cluster(cfg) -> ClusterSettings:
    """cluster_settings(cfg), and for kind=dask over TCP a connection to the scheduler's port (one socket, no
    Dask): an address nobody answers on is a ConfigError before setup, calibration or simulation."""
    s = cluster_settings(cfg)
    if s.kind == "dask" and urlsplit(s.address).scheme in ("tcp", "tls"):
        parts = urlsplit(s.address)
        try:
            socket.create_connection((parts.hostname, parts.port), timeout=s.connect_timeout_s).close()
        except OSError as exc:
            raise ConfigError("cluster.address", f"no Dask scheduler answers at {s.address} "
                                                 f"({exc.strerror or exc}); start one with `dask scheduler` "
                                                 "or use cluster=local") from None
    return s
