"""Where the PostgreSQL tests find their server, on a machine that may not have one running.

`TEST_POSTGRES_URL` (default `postgresql://postgres@127.0.0.1:5432/test`) names it. When
nothing answers at its host and port, the run gets a throwaway server instead, if the PostgreSQL
server binaries are installed (`initdb` and `pg_ctl`: see `tests/pgcluster.py`): a cluster in a
temporary directory on a free port, for this run only, stopped and deleted at its end. Without
them, a run that holds PostgreSQL tests stops before the first test with one line saying how to
provide a server, instead of failing in every fixture.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bot.fakes.loopback import free_port
from tests.pgcluster import PgCluster, pg_bin_dir

__all__ = ["DEFAULT_URL", "Provided", "how_to_provide", "provide_postgres", "reachable"]

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class Provided:
    """The server the run uses: its URL, and the throwaway cluster to remove, if one was made."""

    url: str
    cluster: PgCluster | None = None
    note: str | None = None

    def close(self) -> None:
        if self.cluster is None:
            return
        if self.cluster.running():
            # A stop that fails must not hide the run's own outcome.
            with contextlib.suppress(RuntimeError):
                asyncio.run(self.cluster.stop(mode="immediate"))
        shutil.rmtree(self.cluster.root, ignore_errors=True)
        self.cluster = None


def reachable(url: str, *, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections at the URL's host and port."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout):
            return True
    except OSError:
        return False


def how_to_provide(url: str) -> str:
    """The one line said when there is no server and none can be started."""
    where = urlsplit(url).netloc.rpartition("@")[2] or "127.0.0.1:5432"
    return (
        f"no PostgreSQL at {where} and no PostgreSQL server binaries to start one: start one "
        "there (e.g. `docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust "
        "postgres:16`), point TEST_POSTGRES_URL at another, or install the postgresql package "
        "(or set PG_BIN) for a throwaway server"
    )


def provide_postgres(url: str) -> Provided:
    """`url` if it answers; else a throwaway server; else a Provided whose `url` is empty and
    whose `note` says how to provide one."""
    if reachable(url):
        return Provided(url=url)
    try:
        bin_dir = pg_bin_dir()
    except RuntimeError:
        return Provided(url="", note=how_to_provide(url))
    if not all((bin_dir / program).exists() for program in ("initdb", "pg_ctl")):
        return Provided(url="", note=how_to_provide(url))
    where = urlsplit(url).netloc.rpartition("@")[2]
    try:
        cluster = _start_cluster(bin_dir)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Provided(
            url="", note=f"no PostgreSQL at {where}, and a throwaway server failed: {reason}"
        )
    return Provided(
        url=cluster.url,
        cluster=cluster,
        note=f"no PostgreSQL at {where}: the tests use a throwaway server on "
        f"127.0.0.1:{cluster.port}, removed at the end",
    )


def _start_cluster(bin_dir: Path) -> PgCluster:
    root = Path(tempfile.mkdtemp(prefix="retrain-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres", group="postgres")
    cluster = PgCluster(root=root, bin_dir=bin_dir, port=free_port())
    try:
        cluster.init()
        asyncio.run(cluster.start())
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster
