"""The one SQL sandbox: every piece of user SQL (job SQL, ``config.partition_by``, queries) goes
through here before DuckDB sees it, and every DuckDB connection that runs it is opened here.

Defence in depth, in this order:

1. **Bounds before parsing** (:func:`check_bounds`): the text length, the token count and the
   nesting depth (brackets, ``CASE``, chains of unary operators) are capped on the tokens, which is
   linear, so no input makes the recursive parser burn seconds or overflow the stack.
2. **The parse guard** (:func:`parse_read_only`, :func:`parse_expression`): sqlglot accepts exactly
   one read-only statement (SELECT, WITH, set operations) or one scalar expression. Every other
   statement kind, table functions other than ``range`` / ``generate_series`` / ``unnest``, tables
   named like files (``'x.parquet'``, ``"s3://…"``), and every function that reads a file, the
   environment or the settings (``read_*``, ``*_scan``, ``glob``, ``getenv``,
   ``current_setting``, ``duckdb_*`` …) are refused as ``forbidden_statement``, whatever DuckDB's
   own settings are.
3. **The connection** (:func:`sandbox_connect`): external access off (only the partition files the
   statement was bound to are allowed), extension autoload and autoinstall off, the org's memory,
   thread and temp-space limits, and the configuration locked before user SQL runs.
4. **The watchdog** (:class:`Watchdog`): interrupts the connection at the deadline or when the
   caller says stop (a cancel, a lost lease).

Errors carry the query service's stable codes (``syntax_error``, ``forbidden_statement``, …).
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from orgs.settings_schema import org_settings

# Large enough for any hand-written analytics query, small enough to parse in milliseconds.
MAX_SQL_CHARS = 20_000
MAX_SQL_TOKENS = 8_000
MAX_NESTING = 48
MAX_EXPRESSION_CHARS = 1_000

READ_ONLY_STATEMENTS = (exp.Select, exp.Union, exp.Intersect, exp.Except)
# Table functions that only generate rows.
ALLOWED_TABLE_FUNCTIONS = {"range", "generate_series", "unnest"}
# Functions that read files, the environment, the settings or the catalog of the process.
FORBIDDEN_FUNCTIONS = {
    "glob",
    "getenv",
    "current_setting",
    "query",
    "query_table",
    "sniff_csv",
    "which_secret",
    "load_aws_credentials",
    "st_read",
    "st_read_meta",
    "current_database",
    "current_schema",
    "current_schemas",
    "pg_get_viewdef",
    "checkpoint",
    "force_checkpoint",
    "enable_profiling",
    "disable_profiling",
}
FORBIDDEN_PREFIXES = (
    "read_",
    "parquet_",
    "duckdb_",
    "pragma_",
    "sqlite_",
    "postgres_",
    "mysql_",
    "iceberg_",
    "delta_",
    "json_execute",
    "icu_",
    # The platform's own functions on every sandboxed database (the personal-data masking UDF).
    "__",
)
FORBIDDEN_SUFFIXES = ("_scan", "_metadata", "_schema", "_attach")
# Nodes that change or leave the database, wherever sqlglot places them.
FORBIDDEN_NODES = (
    exp.Command,
    exp.Create,
    exp.Drop,
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Copy,
    exp.Attach,
    exp.Detach,
    exp.Set,
    exp.Pragma,
    exp.Use,
    exp.Alter,
    exp.Into,
    exp.Describe,
    exp.Summarize,
    exp.Pivot,
    exp.Install,
    exp.Export,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.LoadData,
    exp.Show,
    exp.Cache,
    exp.Uncache,
    exp.Refresh,
)
_NEST_OPEN = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE, TokenType.CASE}
_NEST_CLOSE = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE, TokenType.END}
_UNARY = {TokenType.NOT, TokenType.DASH, TokenType.PLUS, TokenType.TILDE}


class SqlRejected(Exception):
    """SQL refused before or while it ran; ``code`` is one of the query service's error codes."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _syntax(message: str) -> SqlRejected:
    return SqlRejected("syntax_error", message)


def _forbidden(message: str) -> SqlRejected:
    return SqlRejected("forbidden_statement", message)


# -- 1. bounds ----------------------------------------------------------------------------------


def check_bounds(sql: str, *, max_chars: int = MAX_SQL_CHARS) -> None:
    """Refuse SQL too long or nested too deeply to parse quickly; linear in the text."""
    if not isinstance(sql, str) or not sql.strip():
        raise _syntax("the SQL is empty")
    if len(sql) > max_chars:
        raise _syntax(f"the SQL is {len(sql)} characters long; at most {max_chars} are accepted")
    try:
        tokens = sqlglot.Dialect.get_or_raise("duckdb").tokenize(sql)
    except sqlglot.errors.TokenError as exc:
        raise _syntax(f"SQL does not parse: {str(exc).splitlines()[0]}") from None
    if len(tokens) > MAX_SQL_TOKENS:
        raise _syntax(f"the SQL has {len(tokens)} tokens; at most {MAX_SQL_TOKENS} are accepted")
    depth = deepest = unary_run = 0
    for token in tokens:
        if token.token_type in _NEST_OPEN:
            depth += 1
            deepest = max(deepest, depth)
        elif token.token_type in _NEST_CLOSE:
            depth -= 1
        unary_run = unary_run + 1 if token.token_type in _UNARY else 0
        if deepest > MAX_NESTING or unary_run > MAX_NESTING:
            raise _syntax(f"the SQL is nested more than {MAX_NESTING} levels deep")


# -- 2. the parse guard -------------------------------------------------------------------------


# First words of statements that are not queries: refused as such even where sqlglot cannot parse them.
WRITE_KEYWORDS = {
    "alter", "analyze", "attach", "call", "checkpoint", "comment", "copy", "create", "deallocate",
    "delete", "detach", "drop", "execute", "export", "force", "import", "insert", "install", "load",
    "merge", "pragma", "prepare", "reset", "set", "truncate", "update", "use", "vacuum", "begin",
    "commit", "rollback", "abort", "start", "savepoint", "release", "grant", "revoke", "update_extensions",
}  # fmt: skip


def _is_parameter_name(name: str) -> bool:
    return bool(name) and (str(name)[0].isalpha() or str(name)[0] == "_")


def _parse(sql: str) -> list[exp.Expression]:
    try:
        return [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.ParseError as exc:
        words = re.findall(r"(?:^|;)\s*([A-Za-z_]+)", _strip_comments(sql))
        if any(word.lower() in WRITE_KEYWORDS for word in words):
            raise _forbidden("only SELECT / WITH queries are accepted") from None
        raise _syntax(f"SQL does not parse: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise _syntax("the SQL is nested too deeply") from None


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.S)


def parse_read_only(sql: str, *, max_chars: int = MAX_SQL_CHARS) -> exp.Expression:
    """One read-only statement, checked by :func:`check_tree`, or :class:`SqlRejected`."""
    check_bounds(sql, max_chars=max_chars)
    statements = _parse(sql)
    if len(statements) != 1:
        raise _forbidden(f"exactly one SQL statement is accepted, found {len(statements)}")
    statement = statements[0]
    if not isinstance(statement, READ_ONLY_STATEMENTS):
        kind = statement.key.upper() if not isinstance(statement, exp.Command) else statement.name.upper()
        raise _forbidden(f"only SELECT / WITH queries are accepted, not {kind}")
    check_tree(statement)
    return statement


def parse_expression(text: str) -> exp.Expression:
    """One scalar expression (no statement, no subquery), checked like a statement."""
    if not isinstance(text, str) or not text.strip():
        raise _syntax("the expression is empty")
    check_bounds(text, max_chars=MAX_EXPRESSION_CHARS)
    statements = _parse(text)
    if len(statements) != 1:
        raise _forbidden("exactly one expression is accepted")
    expression = statements[0]
    if isinstance(expression, exp.Query | exp.DDL | exp.DML | exp.Command) or expression.find(
        exp.Query, exp.Table, exp.Subquery
    ):
        raise _forbidden("an expression over columns is accepted, not a query or a table")
    check_tree(expression)
    return expression


def function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def is_forbidden_function(name: str) -> bool:
    name = name.lower()
    return (
        name in FORBIDDEN_FUNCTIONS
        or name.startswith(FORBIDDEN_PREFIXES)
        or name.endswith(FORBIDDEN_SUFFIXES)
    )


def check_tree(tree: exp.Expression) -> None:
    """Refuse what reads files, the environment or settings, or writes anything, anywhere in ``tree``."""
    for node in tree.walk():
        if isinstance(node, FORBIDDEN_NODES):
            raise _forbidden(f"{node.key.upper()} is not accepted in a query")
        if isinstance(node, exp.Placeholder) and not _is_parameter_name(node.name):
            raise _forbidden("positional parameters are not accepted; name them: $name")
        if isinstance(node, exp.Parameter) and not isinstance(node.this, exp.Var | exp.Identifier):
            raise _forbidden("positional parameters are not accepted; name them: $name")
        if isinstance(node, exp.Func) and is_forbidden_function(function_name(node)):
            raise _forbidden(f"the function {function_name(node)} is not accepted")
        if isinstance(node, exp.Table):
            _check_table(node)


def _check_table(table: exp.Table) -> None:
    source = table.this
    if isinstance(source, exp.Func):
        name = function_name(source)
        if name not in ALLOWED_TABLE_FUNCTIONS or is_forbidden_function(name):
            raise _forbidden(f"the table function {name} is not accepted")
        return
    if not isinstance(source, exp.Identifier):
        raise _forbidden(f"{table.sql(dialect='duckdb')} is not a dataset")
    for part in (table.name, table.db, table.catalog):
        if part and any(ch in part for ch in "./\\:*?~"):
            raise _forbidden(f"{part!r} is not a dataset name (files cannot be read)")
    if table.args.get("when") is not None:
        raise _forbidden("time travel clauses are not accepted")


def referenced_tables(statement: exp.Expression) -> set[str]:
    """Names of the tables ``statement`` reads (``namespace.name`` or a bare name), CTEs excluded."""
    ctes = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}
    names = set()
    for table in statement.find_all(exp.Table):
        if isinstance(table.this, exp.Func):
            continue
        if table.catalog:
            names.add(f"{table.catalog}.{table.db}.{table.name}")
        elif table.db:
            names.add(f"{table.db}.{table.name}")
        elif table.name not in ctes:
            names.add(table.name)
    return names


def parameter_names(statement: exp.Expression) -> set[str]:
    """Names of the ``$name`` parameters in ``statement``."""
    names = set()
    for node in statement.find_all(exp.Placeholder, exp.Parameter):
        name = node.name if isinstance(node, exp.Placeholder) else node.this.name
        if _is_parameter_name(name):
            names.add(str(name))
    return names


def normalised_sql(statement: exp.Expression) -> str:
    """A canonical text of ``statement`` (whitespace, case of keywords and comments do not matter)."""
    return statement.sql(dialect="duckdb", comments=False)


# -- 3. the connection --------------------------------------------------------------------------


@dataclass(frozen=True)
class SandboxLimits:
    """DuckDB limits of one org (``orgs.settings``)."""

    memory_limit_mb: int = 2048
    threads: int = 2
    temp_space_mb: int = 4096
    timeout_seconds: float = 60

    @classmethod
    def for_org(cls, org) -> SandboxLimits:
        values = org_settings(getattr(org, "settings", None))
        return cls(
            memory_limit_mb=int(values["query_memory_limit_mb"]),
            threads=int(values["query_threads"]),
            temp_space_mb=int(values.get("query_temp_space_mb", 4096)),
            timeout_seconds=float(values["query_timeout_seconds"]),
        )


# Called with every sandboxed DuckDB database as it opens, before its configuration is locked: upper
# layers install what their views call (the personal-data masking UDF) without this module naming them.
_DATABASE_HOOKS: list[Callable[[duckdb.DuckDBPyConnection], None]] = []


def register_database_hook(hook: Callable[[duckdb.DuckDBPyConnection], None]) -> None:
    if hook not in _DATABASE_HOOKS:
        _DATABASE_HOOKS.append(hook)


def _connect(limits: SandboxLimits) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "memory_limit": f"{limits.memory_limit_mb}MB",
            "threads": limits.threads,
            "temp_directory": _temp_directory(),
            "max_temp_directory_size": f"{limits.temp_space_mb}MB",
        },
    )
    for hook in _DATABASE_HOOKS:
        hook(con)
    return con


def _temp_directory() -> str:
    path = os.path.join(tempfile.gettempdir(), f"chainlake-duckdb-{os.getpid()}")
    os.makedirs(path, exist_ok=True)
    return path


def sandbox_connect(
    limits: SandboxLimits,
    *,
    allowed_paths: Iterable[str] = (),
    setup: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for untrusted SQL.

    ``setup`` binds the views (it runs before the lock, with only ``allowed_paths`` readable);
    afterwards external access is off and the configuration locked, so nothing the user writes can
    read another file, load an extension or lift a limit.
    """
    con = _connect(limits)
    try:
        paths = list(allowed_paths)
        if paths:
            con.execute("SET allowed_paths = $paths", {"paths": paths})
        con.execute("SET enable_external_access = false")
        if setup is not None:
            setup(con)
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


class _InstancePool:
    """Sandboxed DuckDB databases kept per (limits, readable directories) in this process.

    Opening a DuckDB database costs tens of milliseconds; a query instead gets a fresh connection
    (``cursor()``) on its org's database: its own temporary views and registered objects, its own
    interrupt, and the database's locked configuration, limits and file allow-list.
    """

    def __init__(self, size: int = 8):
        self.size = size
        self.lock = threading.Lock()
        self.databases: OrderedDict[tuple, duckdb.DuckDBPyConnection] = OrderedDict()
        self.pid = os.getpid()

    def connection(self, limits: SandboxLimits, directories: tuple[str, ...]) -> duckdb.DuckDBPyConnection:
        key = (limits.memory_limit_mb, limits.threads, limits.temp_space_mb, directories)
        with self.lock:
            if self.pid != os.getpid():  # a forked worker: the parent's databases are not usable here
                self.databases.clear()
                self.pid = os.getpid()
            database = self.databases.get(key)
            if database is None:
                database = _open_database(limits, directories)
                self.databases[key] = database
                while len(self.databases) > self.size:
                    # Dropped, not closed: connections still running on it keep it alive.
                    self.databases.popitem(last=False)
            self.databases.move_to_end(key)
            return database.cursor()


def _open_database(limits: SandboxLimits, directories: tuple[str, ...]) -> duckdb.DuckDBPyConnection:
    database = _connect(limits)
    if directories:
        database.execute("SET allowed_directories = $dirs", {"dirs": list(directories)})
        # Partition files are immutable (each version has a name of its own): their footers can be
        # cached across the queries of this database.
        database.execute("SET parquet_metadata_cache = true")
    database.execute("SET enable_external_access = false")
    database.execute("SET lock_configuration = true")
    return database


_POOL = _InstancePool()


def sandbox_session(
    limits: SandboxLimits, *, allowed_directories: Iterable[str] = ()
) -> duckdb.DuckDBPyConnection:
    """A fresh connection on a pooled sandboxed database whose only readable files are under
    ``allowed_directories`` (each ending with ``/``). Bind with TEMP views or registered objects,
    which only this connection sees; closing it drops them."""
    directories = tuple(sorted(d if d.endswith("/") else d + "/" for d in allowed_directories))
    return _POOL.connection(limits, directories)


# -- 4. the watchdog ----------------------------------------------------------------------------


class Watchdog:
    """Interrupts ``connection`` at ``deadline`` (monotonic) or once ``should_stop()`` is true.

    ``reason`` tells afterwards why it fired: ``timeout`` or ``cancelled``.
    """

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        *,
        timeout_seconds: float,
        should_stop: Callable[[], bool] | None = None,
        poll_seconds: float = 0.2,
        thread_cleanup: Callable[[], None] | None = None,
    ):
        self.connection = connection
        self.thread_cleanup = thread_cleanup
        self.deadline = time.monotonic() + timeout_seconds
        self.should_stop = should_stop
        self.poll_seconds = poll_seconds
        self.reason: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="duckdb-watchdog", daemon=True)

    def _watch(self) -> None:
        try:
            self._poll()
        finally:
            if self.thread_cleanup is not None:
                self.thread_cleanup()

    def _poll(self) -> None:
        while not self._done.wait(self.poll_seconds):
            if time.monotonic() >= self.deadline:
                self.reason = "timeout"
            elif self.should_stop is not None:
                try:
                    if self.should_stop():
                        self.reason = "cancelled"
                except Exception:  # a failed check must not kill the watch; the deadline still holds
                    pass
            if self.reason:
                self.connection.interrupt()
                # Keep interrupting: a statement started after the first interrupt stops too.
                while not self._done.wait(self.poll_seconds):
                    self.connection.interrupt()
                return

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join(timeout=5)


def error_code(exc: BaseException, *, watchdog_reason: str | None = None) -> str:
    """The query service's code for a DuckDB error."""
    if isinstance(exc, SqlRejected):
        return exc.code
    if isinstance(exc, duckdb.InterruptException) or watchdog_reason:
        return watchdog_reason or "cancelled"
    if isinstance(exc, duckdb.OutOfMemoryException):
        return "memory_limit"
    if isinstance(exc, duckdb.PermissionException):
        return "forbidden_statement"
    if isinstance(
        exc,
        duckdb.ParserException
        | duckdb.BinderException
        | duckdb.CatalogException
        | duckdb.ConversionException
        | duckdb.InvalidInputException
        | duckdb.OutOfRangeException
        | duckdb.NotImplementedException,
    ):
        return "syntax_error"
    text = str(exc)
    if "Out of Memory" in text or "could not allocate" in text or "temp_directory" in text:
        return "memory_limit"
    return "internal"


def error_message(exc: BaseException) -> str:
    """The first line of a DuckDB error, without the internal echo of the statement."""
    text = getattr(exc, "message", None) or str(exc)
    return text.strip().splitlines()[0][:500] if text.strip() else type(exc).__name__
