"""Private Redis Cluster and Sentinel setups on loopback, for the tests in tests/cluster/.

`LocalCluster` starts three masters with `--cluster-enabled yes` and joins them with
`redis-cli --cluster create`; `LocalSentinel` starts a master, one replica and one Sentinel
(quorum 1) that fails over within about three seconds of the master going down. Nothing is
written to disk but the config files in a temporary folder, and no port is fixed: each
process takes a free loopback port, so port 6379 is never touched.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import redis.cluster

from .servers import free_port

HOST = "127.0.0.1"
CLUSTER_MASTERS = 3
SENTINEL_SERVICE = "sessionwatch"
# Above the Sentinel's 1 s ping period on purpose: with 1000 ms, Redis 7.0's Sentinel could
# mark the just-promoted master down before its first ping to it, and fail over again.
DOWN_AFTER_MS = 2000
FAILOVER_TIMEOUT_MS = 3000


# A cluster node also listens on its port + 10000 (the cluster bus), so its port stays
# below 55536 and both ports must be free.
CLUSTER_BUS_OFFSET = 10000


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_cluster_port() -> int:
    """Return a loopback port that was free a moment ago, along with its cluster bus port."""
    for _ in range(200):
        port = random.randint(20000, 65535 - CLUSTER_BUS_OFFSET)
        if _port_free(port) and _port_free(port + CLUSTER_BUS_OFFSET):
            return port
    raise RuntimeError("found no free pair of loopback ports for a cluster node")


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed (Debian packages redis-server, redis-tools)")
    return path


def _wait(check: Any, failure: str, timeout: float) -> Any:
    """Call `check` until it returns a true value; raise TimeoutError with `failure`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except (redis.RedisError, OSError) as exc:
            last_error = exc
        else:
            if result:
                return result
        time.sleep(0.05)
    detail = f" (last error: {type(last_error).__name__}: {last_error})" if last_error else ""
    raise TimeoutError(f"{failure} after {timeout} s{detail}")


@dataclass
class Node:
    """One `redis-server` process (data node or Sentinel) started from a config file."""

    port: int
    config: Path
    sentinel: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Node:
        args = [_binary("redis-server"), str(self.config)]
        if self.sentinel:
            args.append("--sentinel")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait(self._ready, f"redis-server did not answer on port {self.port}", 10)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; its log ends with: {self.log_tail()}") from None
        return self

    @property
    def log_path(self) -> Path:
        return self.config.parent / f"{self.port}.log"

    def log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _ready(self) -> bool:
        if not self.running:
            raise OSError(f"redis-server exited with status {self.process.returncode}"
                          if self.process else "redis-server not started")
        return bool(self.client().ping())

    def client(self, **kwargs: Any) -> redis.Redis:
        kwargs.setdefault("socket_timeout", 2)
        return redis.Redis(host=HOST, port=self.port, **kwargs)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """Stop the process at once with SIGKILL, as a crashed host would."""
        if self.running:
            assert self.process is not None
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.running:
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _write_config(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _data_node_config(workdir: Path, port: int, extra: list[str]) -> Path:
    folder = workdir / str(port)
    folder.mkdir()
    return _write_config(folder / "redis.conf", [
        f"port {port}",
        f"bind {HOST}",
        "protected-mode no",
        'save ""',
        "appendonly no",
        # Replicas sync at once (the default waits 5 s for more replicas to join).
        "repl-diskless-sync-delay 0",
        f"dir {folder}",
        *extra,
    ])


class LocalCluster:
    """A Redis Cluster of three masters and no replicas, on free loopback ports."""

    def __init__(self, masters: int = CLUSTER_MASTERS) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="sessionwatch-cluster-"))
        self.nodes: list[Node] = []
        self.masters = masters

    @property
    def url(self) -> str:
        """The `redis+cluster://` URL listing every node."""
        return "redis+cluster://" + ",".join(f"{HOST}:{node.port}" for node in self.nodes)

    def start(self) -> LocalCluster:
        try:
            for _ in range(self.masters):
                port = free_cluster_port()
                config = _data_node_config(self.workdir, port, [
                    "cluster-enabled yes",
                    "cluster-config-file nodes.conf",
                    "cluster-node-timeout 5000",
                    f"cluster-announce-ip {HOST}",
                ])
                self.nodes.append(Node(port, config).start())
            self._create()
        except BaseException:
            self.stop()
            raise
        return self

    def _create(self) -> None:
        addresses = [f"{HOST}:{node.port}" for node in self.nodes]
        result = subprocess.run(
            [_binary("redis-cli"), "--cluster", "create", *addresses,
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, text=True, timeout=60, check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {result.stdout[-2000:]}"
                               f"{result.stderr[-2000:]}")
        for node in self.nodes:
            _wait(lambda node=node: self._state_ok(node),
                  f"cluster_state is not ok on port {node.port}", 30)

    @staticmethod
    def _state_ok(node: Node) -> bool:
        info = node.client(decode_responses=True).execute_command("CLUSTER", "INFO")
        text = info if isinstance(info, str) else info.decode()
        return "cluster_state:ok" in text

    def client(self, **kwargs: Any) -> redis.cluster.RedisCluster:
        nodes = [redis.cluster.ClusterNode(HOST, node.port)  # type: ignore[no-untyped-call]
                 for node in self.nodes]
        kwargs.setdefault("socket_timeout", 5)
        return redis.cluster.RedisCluster(startup_nodes=nodes, **kwargs)

    def error_counts(self) -> dict[str, int]:
        """Return the error replies of every node so far, summed by error code (INFO errorstats)."""
        totals: dict[str, int] = {}
        for node in self.nodes:
            stats = node.client().info("errorstats")
            for name, value in stats.items():
                code = name.removeprefix("errorstat_")
                totals[code] = totals.get(code, 0) + int(value["count"])
        return totals

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


class LocalSentinel:
    """A master, one replica and one Sentinel (quorum 1) on free loopback ports.

    The Sentinel marks the master down after DOWN_AFTER_MS of silence and promotes the
    replica; `url` is the `redis+sentinel://` URL of the service.
    """

    def __init__(self, service: str = SENTINEL_SERVICE) -> None:
        self.service = service
        self.workdir = Path(tempfile.mkdtemp(prefix="sessionwatch-sentinel-"))
        self.master: Node | None = None
        self.replica: Node | None = None
        self.sentinel: Node | None = None

    @property
    def url(self) -> str:
        assert self.sentinel is not None
        return f"redis+sentinel://{HOST}:{self.sentinel.port}/{self.service}"

    def start(self) -> LocalSentinel:
        try:
            master_port, replica_port, sentinel_port = free_port(), free_port(), free_port()
            announce = [f"replica-announce-ip {HOST}"]
            self.master = Node(master_port,
                               _data_node_config(self.workdir, master_port, announce)).start()
            self.replica = Node(replica_port, _data_node_config(
                self.workdir, replica_port, [*announce, f"replicaof {HOST} {master_port}"],
            )).start()
            _wait(self._replica_synced, "the replica did not sync with the master", 20)
            self.sentinel = Node(sentinel_port, self._sentinel_config(sentinel_port),
                                 sentinel=True).start()
            _wait(self._sentinel_sees_replica, "the Sentinel did not discover the replica", 20)
        except BaseException:
            self.stop()
            raise
        return self

    def _sentinel_config(self, port: int) -> Path:
        assert self.master is not None and self.replica is not None
        folder = self.workdir / f"sentinel-{port}"
        folder.mkdir()
        # Sentinel rewrites its config file, so it must be a writable file of its own.
        return _write_config(folder / "sentinel.conf", [
            f"port {port}",
            f"bind {HOST}",
            "protected-mode no",
            f"dir {folder}",
            f"sentinel announce-ip {HOST}",
            f"sentinel monitor {self.service} {HOST} {self.master.port} 1",
            # Named up front so the Sentinel need not wait for the master's INFO to find it.
            f"sentinel known-replica {self.service} {HOST} {self.replica.port}",
            f"sentinel down-after-milliseconds {self.service} {DOWN_AFTER_MS}",
            f"sentinel failover-timeout {self.service} {FAILOVER_TIMEOUT_MS}",
            f"sentinel parallel-syncs {self.service} 1",
        ])

    def _replica_synced(self) -> bool:
        assert self.replica is not None
        info = self.replica.client().info("replication")
        return bool(info.get("master_link_status") == "up")

    def _sentinel_sees_replica(self) -> bool:
        assert self.sentinel is not None
        # A replica can be promoted only once the Sentinel has seen it linked to the master.
        replicas = self.sentinel.client().sentinel_slaves(self.service)
        return any(replica.get("master-link-status") == "ok" for replica in replicas)

    def master_port(self) -> int:
        """Return the port of the server the Sentinel names as master now."""
        assert self.sentinel is not None
        _host, port = self.sentinel.client().sentinel_get_master_addr_by_name(self.service)
        return int(port)

    def node_on(self, port: int) -> Node:
        for node in (self.master, self.replica):
            if node is not None and node.port == port:
                return node
        raise LookupError(f"no data node of this setup listens on port {port}")

    def wait_for_new_master(self, old_port: int, timeout: float = 30) -> Node:
        """Wait until the Sentinel names another master and that server accepts writes."""

        def promoted() -> Node | None:
            port = self.master_port()
            if port == old_port:
                return None
            node = self.node_on(port)
            role = node.client().info("replication").get("role")
            return node if role == "master" else None

        node: Node = _wait(promoted, "the Sentinel did not promote the replica", timeout)
        return node

    def stop(self) -> None:
        for node in (self.sentinel, self.replica, self.master):
            if node is not None:
                with contextlib.suppress(OSError):
                    node.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
