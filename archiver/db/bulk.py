"""Many-row INSERTs done the fastest way each backend offers, for the backfill's hot path.

A backfill writes every history item once. On SQLite, SQLAlchemy's per-row parameter
handling (compiling the values, then a bind processor call per value) cost more than
SQLite's own B-tree work, so the statement is built here and handed straight to
sqlite3: the column types' own bind processors still convert every value, so what
lands is what SQLAlchemy would have written, but values that are the same for every
row (the page's clock, its source) are converted once. A page goes in as one multi-row
`VALUES` statement, not an `executemany`: sqlite3 lets go of the GIL at every step of a
statement, and with the next page being fetched in another thread, a step per row
handed the GIL back and forth a hundred times a page (measured: a fifth of a backfill's
CPU). On Postgres a driver-level `executemany` runs one INSERT per row on the server,
while SQLAlchemy's "insertmanyvalues" sends one multi-row statement per page: that stays.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

Processor = Callable[[Any], Any]
# Bounds one statement's text (old SQLite builds cap it at 1 MB) and the statements kept.
_MOST_ROWS_PER_STATEMENT = 500


class BulkInsert:
    """`INSERT ... ON CONFLICT DO NOTHING` of `columns` per row plus `constants` per call."""

    def __init__(
        self, table: Table, columns: Sequence[str], constants: Sequence[str], conflict: Sequence[str]
    ) -> None:
        self.table = table
        self.columns = tuple(columns)
        self.constants = tuple(constants)
        self.conflict = tuple(conflict)
        self._sqlite: tuple[list[tuple[int, Processor]], dict[str, Processor]] | None = None
        self._sqlite_statements: dict[int, str] = {}
        self._postgres = postgresql.insert(table).on_conflict_do_nothing(index_elements=self.conflict)

    def execute(
        self, connection: Connection, rows: Iterable[Sequence[Any]], constants: Mapping[str, Any]
    ) -> None:
        """Insert `rows` (values in `columns` order); a row whose key exists is skipped."""
        if connection.dialect.name == "sqlite":
            self._execute_on_sqlite(connection, rows, constants)
            return
        names = self.columns + self.constants
        tail = tuple(constants[name] for name in self.constants)
        batch = [dict(zip(names, (*row, *tail), strict=True)) for row in rows]
        if batch:
            connection.execute(self._postgres, batch)

    def _execute_on_sqlite(
        self, connection: Connection, rows: Iterable[Sequence[Any]], constants: Mapping[str, Any]
    ) -> None:
        row_processors, constant_processors = self._sqlite_processors(connection.dialect)
        tail = tuple(
            constant_processors[name](constants[name]) if name in constant_processors else constants[name]
            for name in self.constants
        )
        parameters = [_converted(row, row_processors) + tail for row in rows]
        width = len(self.columns) + len(self.constants)
        per_statement = max(1, min(_MOST_ROWS_PER_STATEMENT, _variable_limit(connection) // width))
        for start in range(0, len(parameters), per_statement):
            chunk = parameters[start : start + per_statement]
            connection.exec_driver_sql(
                self._sqlite_statement(connection.dialect, len(chunk)), tuple(chain(*chunk))
            )

    def _sqlite_statement(self, dialect: Dialect, rows: int) -> str:
        """The INSERT of `rows` rows; a page's size repeats, so few are ever built."""
        if (sql := self._sqlite_statements.get(rows)) is None:
            quote = dialect.identifier_preparer.quote
            names = self.columns + self.constants
            row = f"({', '.join('?' for _ in names)})"
            sql = (
                f"INSERT INTO {quote(self.table.name)} ({', '.join(quote(name) for name in names)}) "
                f"VALUES {', '.join(row for _ in range(rows))} "
                f"ON CONFLICT ({', '.join(quote(name) for name in self.conflict)}) DO NOTHING"
            )
            self._sqlite_statements[rows] = sql
        return sql

    def _sqlite_processors(
        self, dialect: Dialect
    ) -> tuple[list[tuple[int, Processor]], dict[str, Processor]]:
        if self._sqlite is None:
            processors = {
                name: _processor(self.table, name, dialect) for name in self.columns + self.constants
            }
            row_processors = [
                (index, processor)
                for index, name in enumerate(self.columns)
                if (processor := processors[name]) is not None
            ]
            constant_processors = {
                name: processor for name in self.constants if (processor := processors[name]) is not None
            }
            self._sqlite = (row_processors, constant_processors)
        return self._sqlite


def _variable_limit(connection: Connection) -> int:
    """How many `?` one statement of this SQLite build may hold (999 on old builds)."""
    dbapi_connection: sqlite3.Connection = connection.connection.dbapi_connection  # type: ignore[assignment]
    return dbapi_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


def _processor(table: Table, name: str, dialect: Dialect) -> Processor | None:
    """The column type's own conversion for this dialect (variants included)."""
    return table.c[name].type.dialect_impl(dialect).bind_processor(dialect)


def _converted(row: Sequence[Any], processors: list[tuple[int, Processor]]) -> tuple[Any, ...]:
    values = list(row)
    for index, processor in processors:
        values[index] = processor(values[index])
    return tuple(values)
