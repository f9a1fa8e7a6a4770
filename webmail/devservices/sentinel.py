"""A Redis that fails over, for the tests: a master, a replica and three Sentinels (Debian's
redis-server and redis-sentinel) on free loopback ports, each in its own folder."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from webmail.devservices.redis import RedisServer, start_redis
from webmail.devservices.system import find_program, free_port, stop_process, wait_for_port

SERVICE = "webmail"
SENTINEL_CONFIG = """\
port {port}
bind 127.0.0.1
dir {root}
logfile {root}/sentinel.log
sentinel monitor {service} 127.0.0.1 {master_port} 2
sentinel down-after-milliseconds {service} 1000
sentinel failover-timeout {service} 5000
sentinel parallel-syncs {service} 1
"""


@dataclass
class SentinelCluster:
    root: Path
    servers: list[RedisServer]
    sentinels: list[tuple[int, subprocess.Popen[bytes]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """``WEBMAIL_REDIS_URL`` for this cluster."""
        hosts = ",".join(f"127.0.0.1:{port}" for port, _ in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def master_port(self) -> int:
        """The port of the current master, as the Sentinels tell it."""
        port, _ = self.sentinels[0]
        with redis.Redis(port=port, socket_timeout=2) as sentinel:
            _, master = sentinel.sentinel_get_master_addr_by_name(SERVICE)
        return int(master)

    def server(self, port: int) -> RedisServer:
        return next(server for server in self.servers if server.port == port)

    def wait_for_failover(self, old_master: int, timeout: float = 30.0) -> int:
        """Wait until a replica took over from ``old_master`` and accepts writes; its port."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                port = self.master_port()
                if port != old_master:
                    with redis.Redis(port=port, socket_timeout=2) as master:
                        if master.info("replication")["role"] == "master":
                            return port
            except redis.RedisError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"no failover from 127.0.0.1:{old_master} after {timeout:.0f}s")

    def stop(self) -> None:
        for _, process in self.sentinels:
            stop_process(process)
        for server in self.servers:
            server.stop()


def start_sentinel_cluster(root: Path) -> SentinelCluster:
    binary = find_program("redis-sentinel")
    master = start_redis(root / "master")
    replica = start_redis(root / "replica", replica_of=master.port)
    cluster = SentinelCluster(root, [master, replica])
    try:
        _wait_for_sync(replica)
        for index in range(3):
            folder = root / f"sentinel-{index}"
            folder.mkdir(parents=True)
            port = free_port()
            config = folder / "sentinel.conf"  # Sentinel rewrites it with what it learns
            config.write_text(
                SENTINEL_CONFIG.format(port=port, root=folder, service=SERVICE, master_port=master.port)
            )
            process = subprocess.Popen(
                [binary, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            cluster.sentinels.append((port, process))
            wait_for_port(port, process=process)
        _wait_for_quorum(cluster)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _wait_for_sync(replica: RedisServer, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    with redis.Redis(port=replica.port, socket_timeout=2) as client:
        while client.info("replication").get("master_link_status") != "up":
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis replica did not sync with its master")
            time.sleep(0.1)


def _wait_for_quorum(cluster: SentinelCluster, timeout: float = 15.0) -> None:
    """Every Sentinel knows the replica and the two others, so a failover can be agreed on."""
    deadline = time.monotonic() + timeout
    for port, _ in cluster.sentinels:
        with redis.Redis(port=port, socket_timeout=2) as sentinel:
            while True:
                master = sentinel.sentinel_master(SERVICE)
                if int(master["num-other-sentinels"]) >= 2 and int(master["num-slaves"]) >= 1:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("the Redis Sentinels did not find each other")
                time.sleep(0.1)
