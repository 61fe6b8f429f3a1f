"""Distributed runs on Dask: ``exposure run cluster=local`` (a LocalCluster of worker processes) or
``cluster=dask cluster.address=tcp://host:port`` (a running scheduler); the same numbers, bit for bit, as
``cluster=none`` (this process). See settings (config, checks) and dispatch (chunks to workers, in order back).
"""

from exposure.cluster.dispatch import chunk_outputs, run_chunk
from exposure.cluster.settings import ClusterSettings, check_cluster, cluster_settings

__all__ = ["ClusterSettings", "check_cluster", "chunk_outputs", "cluster_settings", "run_chunk"]
