"""Scheduling: when a send goes out (``--at``), how it recurs (``--every``), and the
persistent timer (APScheduler 3, its job store in Herald's SQLite file)."""
