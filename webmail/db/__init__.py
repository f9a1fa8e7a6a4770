"""SQLAlchemy models, engine and data access; migrations live in the top-level alembic/."""
