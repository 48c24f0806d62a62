"""Worker processes beside a LocalStack's gateway (`orderbot worker`, issue 27): each
its own `python -m bot worker` with the stack's environment and a log of its own."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

READY = "worker process ready"


async def stop_process(
    process: asyncio.subprocess.Process,
    *,
    kill: bool,
    timeout: float,  # noqa: ASYNC109 - a bound on the wait, as asyncio.wait_for's
) -> int:
    """SIGTERM (a clean stop) or SIGKILL (a crash), then wait; SIGKILL after `timeout`.
    The exit status."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode


class WorkerFailed(RuntimeError):
    pass


@dataclass
class Worker:
    number: int
    process: asyncio.subprocess.Process
    log_path: Path
    log_file: IO[bytes]

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""


class WorkerProcesses:
    def __init__(
        self, workdir: Path, env: Callable[[], Mapping[str, str]], *, cwd: Path | None = None
    ) -> None:
        self.workdir = workdir
        self.env = env
        # Where the processes run: a folder without a .env (LocalStack.run_dir).
        self.cwd = cwd or workdir
        self.running: list[Worker] = []
        self.started = 0

    async def start(self, timeout: float = 30.0) -> Worker:  # noqa: ASYNC109 - as LocalStack.start_bot
        """Start one and wait until it has registered (logged in, set up, jobs running)."""
        self.started += 1
        self.cwd.mkdir(parents=True, exist_ok=True)
        log_path = self.workdir / f"worker-{self.started}.log"
        log_file = log_path.open("ab")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "worker",
            cwd=self.cwd,
            env=dict(self.env()),
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
        )
        worker = Worker(self.started, process, log_path, log_file)
        self.running.append(worker)
        deadline = asyncio.get_running_loop().time() + timeout
        while READY not in worker.log():
            if process.returncode is not None:
                raise WorkerFailed(
                    f"worker {worker.number} exited with status {process.returncode}:\n"
                    f"{worker.log()[-4000:]}"
                )
            if asyncio.get_running_loop().time() > deadline:
                raise WorkerFailed(f"worker {worker.number} not ready in {timeout}s")
            await asyncio.sleep(0.05)
        return worker

    async def stop(
        self,
        worker: Worker,
        *,
        kill: bool = False,
        timeout: float = 15.0,  # noqa: ASYNC109 - as LocalStack.stop_bot
    ) -> int:
        """SIGTERM (a clean stop) or SIGKILL (a crash); the exit status."""
        status = await stop_process(worker.process, kill=kill, timeout=timeout)
        worker.log_file.close()
        if worker in self.running:
            self.running.remove(worker)
        return status

    async def stop_all(self) -> None:
        for worker in list(self.running):
            await self.stop(worker)

    def logs(self) -> str:
        return "\n".join(w.log() for w in self.running)
