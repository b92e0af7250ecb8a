"""Schema migrations with Alembic (migrations/ at the top of the checkout)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def sqlalchemy_url(database_url: str | None, sqlite_path: Path) -> str:
    if database_url:
        scheme, _, rest = database_url.partition("://")
        return f"postgresql+psycopg://{rest}"
    return f"sqlite:///{sqlite_path}"


def upgrade(database_url: str | None, sqlite_path: Path) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url, sqlite_path))
    command.upgrade(cfg, "head")
