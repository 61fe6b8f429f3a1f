"""Schema of the ``cluster`` config group: where the chunks of paths are simulated and priced.

    cluster=none                                   this process (default)
    cluster=local cluster.workers=4                a Dask LocalCluster of worker processes on this machine
    cluster=dask cluster.address=tcp://host:8786   an existing Dask distributed scheduler and its workers

Every choice gives the same numbers bit for bit (exposure.cluster).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Optional


class ClusterKind(str, Enum):
    none = "none"  # chunks run in this process
    local = "local"  # a LocalCluster started (and closed) by the run, on the loopback interface
    dask = "dask"  # a running Dask scheduler at ``address``


class Transfer(str, Enum):
    memory = "memory"  # chunk outputs travel worker -> client over Dask's comms (never through the scheduler)
    spill = "spill"  # workers write them to ``spill_dir`` (shared storage) and return only the file name


@dataclass
class ClusterConfig:
    kind: ClusterKind = ClusterKind.none
    address: Optional[str] = None  # cluster=dask: the scheduler, tcp://host:port (or tls://, ucx://)
    workers: int = 2  # cluster=local: worker processes
    threads_per_worker: int = 1  # cluster=local: chunks a worker runs at once (JAX already uses every core)
    memory_limit: str = "auto"  # cluster=local: per worker, Dask's syntax ("4GB", "auto": RAM / workers)
    in_flight: Optional[int] = None  # chunks submitted and not yet consumed (memory bound); null: 2 x worker threads
    transfer: Transfer = Transfer.memory
    spill_dir: Optional[str] = None  # transfer=spill: a folder every worker and this process see (local: a temp folder)
    connect_timeout_s: float = 10.0  # seconds to wait for the scheduler and its first worker
