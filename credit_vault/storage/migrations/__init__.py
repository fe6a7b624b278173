"""Alembic migrations shipped with credit_vault."""
