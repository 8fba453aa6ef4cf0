"""The running product: data engine, key store, vault and clock, opened from settings."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from candor.core.clock import Clock, SystemClock
from candor.store.engine import database_url, keystore_url, make_engine
from candor.store.vault import KEY_FILE_NAME, Vault, load_master_key


def default_key_file(data_url: str) -> Path:
    """CANDOR_KEY_FILE, else candor.key beside a SQLite data file, else in the working dir."""
    explicit = os.environ.get("CANDOR_KEY_FILE")
    if explicit:
        return Path(explicit)
    if data_url.startswith("sqlite:///") and data_url != "sqlite:///:memory:":
        return Path(data_url.removeprefix("sqlite:///")).parent / KEY_FILE_NAME
    return Path(KEY_FILE_NAME)


@dataclass
class Candor:
    """Everything a domain operation needs from the outside world."""

    engine: Engine
    vault: Vault
    clock: Clock = field(default_factory=SystemClock)
    url: str = ""

    @classmethod
    def open(
        cls,
        database: str | None = None,
        keystore: str | None = None,
        clock: Clock | None = None,
    ) -> Candor:
        url = database_url(database)
        keys_engine = make_engine(keystore_url(url, keystore))
        master = load_master_key(default_key_file(url))
        return cls(
            engine=make_engine(url),
            vault=Vault(master, keys_engine),
            clock=clock or SystemClock(),
            url=url,
        )

    def dispose(self) -> None:
        self.engine.dispose()
        self.vault.keystore.dispose()
