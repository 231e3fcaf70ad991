"""Many-row INSERTs done the fastest way each backend offers, for the backfill's hot path.

A backfill writes every history item once. On SQLite, SQLAlchemy's per-row parameter
handling (compiling the values, then a bind processor call per value) cost more than
SQLite's own B-tree work, so the statement is built once and handed straight to
sqlite3's `executemany`: the column types' own bind processors still convert every
value, so what lands is what SQLAlchemy would have written, but values that are the
same for every row (the page's clock, its source) are converted once. On Postgres a
driver-level `executemany` runs one INSERT per row on the server, while SQLAlchemy's
"insertmanyvalues" sends one multi-row statement per page: that stays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

Processor = Callable[[Any], Any]


class BulkInsert:
    """`INSERT ... ON CONFLICT DO NOTHING` of `columns` per row plus `constants` per call."""

    def __init__(
        self, table: Table, columns: Sequence[str], constants: Sequence[str], conflict: Sequence[str]
    ) -> None:
        self.table = table
        self.columns = tuple(columns)
        self.constants = tuple(constants)
        self.conflict = tuple(conflict)
        self._sqlite: tuple[str, list[tuple[int, Processor]], dict[str, Processor]] | None = None
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
        sql, row_processors, constant_processors = self._sqlite_statement(connection.dialect)
        tail = tuple(
            constant_processors[name](constants[name]) if name in constant_processors else constants[name]
            for name in self.constants
        )
        parameters = [_converted(row, row_processors) + tail for row in rows]
        if parameters:
            connection.exec_driver_sql(sql, parameters)

    def _sqlite_statement(
        self, dialect: Dialect
    ) -> tuple[str, list[tuple[int, Processor]], dict[str, Processor]]:
        if self._sqlite is None:
            quote = dialect.identifier_preparer.quote
            names = self.columns + self.constants
            sql = (
                f"INSERT INTO {quote(self.table.name)} ({', '.join(quote(name) for name in names)}) "
                f"VALUES ({', '.join('?' for _ in names)}) "
                f"ON CONFLICT ({', '.join(quote(name) for name in self.conflict)}) DO NOTHING"
            )
            processors = {name: _processor(self.table, name, dialect) for name in names}
            row_processors = [
                (index, processor)
                for index, name in enumerate(self.columns)
                if (processor := processors[name]) is not None
            ]
            constant_processors = {
                name: processor for name in self.constants if (processor := processors[name]) is not None
            }
            self._sqlite = (sql, row_processors, constant_processors)
        return self._sqlite


def _processor(table: Table, name: str, dialect: Dialect) -> Processor | None:
    """The column type's own conversion for this dialect (variants included)."""
    return table.c[name].type.dialect_impl(dialect).bind_processor(dialect)


def _converted(row: Sequence[Any], processors: list[tuple[int, Processor]]) -> tuple[Any, ...]:
    values = list(row)
    for index, processor in processors:
        values[index] = processor(values[index])
    return tuple(values)
