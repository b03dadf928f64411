"""A private PostgreSQL server for tests that stop and start the database under the bot.

The machine's shared server (TEST_POSTGRES_URL) serves every other test run, so it is never
restarted; a test that takes the database away gets a cluster of its own instead: `initdb` in a
temporary directory, a free loopback port, its unix socket in that directory, fsync off. It runs
as the `postgres` OS user when the tests run as root (PostgreSQL refuses root), and is stopped
and deleted however the test ends.

    async with pg_cluster() as cluster:
        url = cluster.url            # postgresql://postgres@127.0.0.1:PORT/postgres
        await cluster.stop()         # connections are cut; new ones are refused
        await cluster.start()        # same port, same data
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.fakes.loopback import free_port

__all__ = ["PgCluster", "pg_bin_dir", "pg_cluster"]

_SEARCH = "/usr/lib/postgresql/*/bin"
# Durability is not what these tests are about; start-up and shutdown speed is.
_SERVER_OPTIONS = (
    "-F -c full_page_writes=off -c synchronous_commit=off -c shared_buffers=16MB "
    "-c listen_addresses=127.0.0.1"
)


def pg_bin_dir() -> Path:
    """The newest installed PostgreSQL's bin directory (PG_BIN overrides it)."""
    if configured := os.environ.get("PG_BIN"):
        return Path(configured)
    found = [p for p in Path("/").glob(_SEARCH.lstrip("/")) if (p / "pg_ctl").exists()]

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path.parent.name)) or (0,)

    if not found:
        raise RuntimeError(
            f"PostgreSQL server binaries (initdb, pg_ctl) not found in {_SEARCH}: install the "
            "postgresql package, or set PG_BIN to the directory holding them"
        )
    return max(found, key=version)


@dataclass
class PgCluster:
    """One PostgreSQL cluster in `root`, served on 127.0.0.1:`port` while started."""

    root: Path
    bin_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def _run(self, program: str, *args: str, timeout: float = 60.0) -> None:
        # PostgreSQL will not run as root; as anyone else it runs as that user.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        command = [*prefix, str(self.bin_dir / program), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{program} {' '.join(args)} failed ({done.returncode}):\n"
                f"{done.stdout}{done.stderr}\n{log}"
            )

    def init(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )

    async def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"{_SERVER_OPTIONS} -p {self.port} -k {self.root}"
        await asyncio.to_thread(
            self._run, "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
            "-w", "-t", "30", "start",
        )  # fmt: skip

    async def stop(self, *, mode: str = "fast") -> None:
        """Stop the server: `fast` cuts every connection, as a failover or a restart does."""
        await asyncio.to_thread(
            self._run, "pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop"
        )

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@asynccontextmanager
async def pg_cluster() -> AsyncIterator[PgCluster]:
    """A started private cluster; stopped and deleted afterwards, even when the test fails."""
    bin_dir = pg_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="retrain-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(root, user="postgres", group="postgres")
        cluster = PgCluster(root=root, bin_dir=bin_dir, port=free_port())
        await asyncio.to_thread(cluster.init)
        await cluster.start()
        try:
            yield cluster
        finally:
            if cluster.running():
                # A stop that fails must not hide the test's own failure.
                with contextlib.suppress(RuntimeError):
                    await cluster.stop(mode="immediate")
    finally:
        shutil.rmtree(root, ignore_errors=True)
