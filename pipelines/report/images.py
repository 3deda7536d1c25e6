"""Plotly figures as PNG at print resolution, through kaleido and the system's Chromium.

One Chromium serves every image of a process (kaleido's sync server, started on the first image);
``session()`` stops it again, for commands that should leave nothing running."""
from __future__ import annotations

import atexit
import os
import shutil
import threading
import warnings
from contextlib import contextmanager
from typing import Iterator

import plotly.graph_objects as go
import plotly.io as pio

from pipelines.errors import ReportError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_LOCK = threading.Lock()
_RUNNING = [False]


def browser_path() -> str | None:
    """The Chromium kaleido will use ($BROWSER_PATH, else the first one on PATH)."""
    env = os.environ.get("BROWSER_PATH")
    if env and os.path.exists(env):
        return env
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


def _start() -> None:
    import kaleido

    if _RUNNING[0]:
        return
    if browser_path() is None:
        raise ReportError("RPT001", detail="PATH 中没有 chromium")
    kaleido.start_sync_server(silence_warnings=True)
    _RUNNING[0] = True
    atexit.register(stop)


def stop() -> None:
    """End the Chromium of this process, if one was started."""
    import kaleido

    with _LOCK:
        if _RUNNING[0]:
            kaleido.stop_sync_server(silence_warnings=True)
            _RUNNING[0] = False


def png(fig: go.Figure, width: int = 1600, height: int | None = None, scale: float = 2.0) -> bytes:
    """``fig`` as PNG bytes (``width`` × ``height`` CSS pixels at ``scale``: 1600 × 2 = 3200 px wide,
    300 dpi across a 27 cm page). RPT001 without Chromium, RPT007 when rendering fails."""
    height = height or int(fig.layout.height or 900)
    with _LOCK:
        _start()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return pio.to_image(fig, format="png", width=width, height=height, scale=scale)
        except ReportError:
            raise
        except Exception as exc:  # noqa: BLE001 - kaleido and Chromium fail in many ways; one message
            raise ReportError("RPT007", detail=f"{type(exc).__name__}: {exc}"[:300]) from exc


@contextmanager
def session() -> Iterator[None]:
    """Images made inside share one Chromium, ended on leaving."""
    try:
        yield
    finally:
        stop()
