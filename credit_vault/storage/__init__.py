"""Storage: SQLAlchemy tables, engine set-up, migrations."""
