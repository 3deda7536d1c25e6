"""Everything computed from the stored returns: indicators at every level, progress judged by 序时进度,
laggards, reporting completeness.

    indicators    the indicator engine (DuckDB SQL generated from the catalog)
    rules         the judgement rules on numpy arrays (the method, statuses, milestones, trends, bands)
    scope         the units, values and plan roots a judgement runs on
    judge         at which levels each target is judged, and judging one target
    rows          judged blocks as rows (Arrow/ENUM row table → DataFrame)
    assess        the progress API (assess, assess_frame)
    stored        the stored progress tables: freshness, data version, reading them back
    refresh       computing and storing everything (the writer thread)
    laggards      后进名单: the laggard order, last returns, failing units
    records       task updates and county sheet records
    completeness  reporting completeness and timeliness
    lookups       the dashboard's other read-only queries
"""
