"""The archive database: schema (models), engines, migrations."""
