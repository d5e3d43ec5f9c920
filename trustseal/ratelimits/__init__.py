"""Rate-limit counters shared by every process: in Redis when configured, else in the
database (never per process)."""
