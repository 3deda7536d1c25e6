"""Everything computed from the stored returns: indicators at every level, progress judged by 序时进度, laggards, reporting completeness."""
