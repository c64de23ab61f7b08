"""The persistent scheduler (APScheduler 3, SQLAlchemy job store in Herald's SQLite file).

Only ``herald serve`` runs the scheduler: APScheduler must not share a job store
between running schedulers.
"""

from __future__ import annotations

from pathlib import Path

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.storage.store import BUSY_TIMEOUT_SECONDS


def create_scheduler(db_path: Path) -> AsyncIOScheduler:
    store = SQLAlchemyJobStore(
        url=f"sqlite:///{db_path}",
        engine_options={"connect_args": {"timeout": BUSY_TIMEOUT_SECONDS}},
    )
    return AsyncIOScheduler(
        jobstores={"default": store},
        timezone="UTC",
        job_defaults={"misfire_grace_time": None, "coalesce": True},
    )


def scheduler_state(scheduler: AsyncIOScheduler | None) -> str:
    if scheduler is None:
        return "off"
    return {0: "stopped", 1: "running", 2: "paused"}.get(scheduler.state, "unknown")
