"""Storage: engines, SQLAlchemy Core tables, Alembic migrations, the separate key store and the
identity vault over it (per-contact keys, blind indexes). Knows nothing above it."""
