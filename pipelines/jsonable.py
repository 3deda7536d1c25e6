"""Values made plain for JSON and CSV: numpy and pandas scalars, NaN/NA → None, dates → ISO text."""
from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd


def plain(v: Any, digits: int | None = None) -> Any:
    """One value as a JSON-friendly Python value (floats rounded to ``digits`` when given)."""
    if isinstance(v, (list, dict, str, bool)) or v is None:
        return v
    if v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        if not math.isfinite(v):
            return None
        return round(v, digits) if digits is not None else v
    if isinstance(v, pd.Timestamp):
        return v.isoformat() if (v.hour or v.minute or v.second or v.microsecond) else v.date().isoformat()
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return v


def plain_records(frame: pd.DataFrame, digits: int | None = None) -> list[dict[str, Any]]:
    """DataFrame rows as JSON-friendly dicts (NaN → None, dates → ISO)."""
    return [{k: plain(v, digits) for k, v in rec.items()} for rec in frame.to_dict("records")]
