"""Reading untrusted files where a failure cannot take the server or the batch with it.

Every uploaded workbook is parsed in a separate worker process (one per batch, started on its first
workbook and ended with the batch)
whose address space is capped at ``settings.limits.worker_memory_mb`` and whose every file gets
``settings.limits.seconds_per_file``: a file that makes the reader abort, eat memory or loop is
refused with ING064 and the worker is replaced; the process that asked — the dashboard's server or
the CLI's batch — goes on with the next file. What comes back is plain data: the sheets as
``read.Sheet`` grids with their hidden rows, formulas and error cells.
"""
from __future__ import annotations

import multiprocessing
import os
import resource
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Iterator

from pipelines.catalog.definitions import LimitSettings
from pipelines.errors import RuralTargetsError
from pipelines.ingest.read import ReturnFile, Sheet, read_return


def _limit_memory(megabytes: int) -> None:
    """In the worker: cap its address space (a reader that asks for more fails there, not here)."""
    cap = megabytes * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _parse(name: str, data: bytes, limits: LimitSettings) -> tuple[str, list[Sheet]]:
    """In the worker: every sheet of the file, read eagerly (a ``RuralTargetsError`` travels back)."""
    ret = read_return(name, data, limits)
    return ret.kind, [s for n in ret.sheet_names if (s := ret.sheet(n)) is not None]


class IsolatedReader:
    """Reads files in one worker process, started on the first workbook and ended with ``close`` (a
    batch's files share it; nothing outlives the batch, so no thread or process is left behind)."""

    def __init__(self, limits: LimitSettings):
        self.limits = limits
        self.pool: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            self.pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_limit_memory, initargs=(self.limits.worker_memory_mb,))
        return self.pool

    def close(self) -> None:
        """End the worker (killed: it may be stuck in a file)."""
        pool, self.pool = self.pool, None
        if pool is None:
            return
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            try:
                os.kill(proc.pid, 9)
            except (ProcessLookupError, PermissionError):
                pass
        pool.shutdown(wait=True, cancel_futures=True)

    def __call__(self, name: str, data: bytes) -> ReturnFile:
        """``read_return`` in the worker, within the memory and time limits.

        Raises RuralTargetsError: what the reader raises (ING006, ING06x, GEN003), or ING064 when the
        worker ran out of memory or time or died reading the file (it is replaced for the next file).
        """
        limits = self.limits
        if name.lower().endswith(".csv"):          # the CSV reader is plain Python with a row limit
            return read_return(name, data, limits)
        try:
            kind, sheets = self._pool().submit(_parse, name, data, limits).result(timeout=limits.seconds_per_file)
        except RuralTargetsError:
            raise
        except FutureTimeout:
            self.close()
            raise RuralTargetsError("ING064", file=name, why=f"超过 {limits.seconds_per_file:g} 秒仍未读完") from None
        except (BrokenProcessPool, MemoryError) as exc:
            self.close()
            why = "所需内存超过上限" if isinstance(exc, MemoryError) else "读取时程序异常退出"
            raise RuralTargetsError("ING064", file=name, why=why) from None
        except Exception as exc:  # noqa: BLE001 - anything else the reader raised on this file
            raise RuralTargetsError("ING006", file=name, detail=type(exc).__name__) from None
        return ReturnFile(name, kind, data, sheets, limits=limits)


@contextmanager
def isolated_reader(limits: LimitSettings) -> Iterator[IsolatedReader]:
    """An ``IsolatedReader`` for the length of a batch."""
    reader = IsolatedReader(limits)
    try:
        yield reader
    finally:
        reader.close()


def read_isolated(name: str, data: bytes, limits: LimitSettings) -> ReturnFile:
    """One file read in its own short-lived worker (see ``IsolatedReader``)."""
    with isolated_reader(limits) as read:
        return read(name, data)
