"""Herald's SQLite file behind a narrow interface.

`Store` (``store.py``) decides which connection and thread each read and write runs on;
`Tables` and `Transaction` (``tables.py``) are the reads and the writes of one
transaction; ``rows.py`` maps rows to sends, messages and receipt posts (the columns are
the records' fields); ``posts.py`` is the narrow window the Slack layer keeps its own
table through; ``migrations.py`` is the schema;
``processes.py`` is each running Herald's heartbeat, which says who owns unfinished work.
The rest of Herald sees only these methods, never SQL, so another database (PostgreSQL
through SQLAlchemy Core, as APScheduler's job store already uses) means another
`Store`/`Transaction` pair, not a change elsewhere.
"""

from bot.storage.rows import utcnow
from bot.storage.store import BUSY_TIMEOUT_SECONDS, Store
from bot.storage.tables import Tables, Transaction

__all__ = ["BUSY_TIMEOUT_SECONDS", "Store", "Tables", "Transaction", "utcnow"]
