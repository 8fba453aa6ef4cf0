"""Storage: engines, SQLAlchemy Core tables and Alembic migrations. Knows nothing above it."""
