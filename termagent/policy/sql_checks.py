"""SQL clients: statements that drop or empty tables, passed with -c/-e, as operands or on stdin.

The SQL itself is matched with regular expressions (it is not shell): DROP of a table,
database or schema, TRUNCATE, and DELETE or UPDATE without a WHERE clause.
"""

from __future__ import annotations

import re

from termagent.policy.calls import Call, Sink, scan_options
from termagent.policy.shell_parse import Word

_OPTION_SQL = {
    "psql": ("cdfhpUvPLoTFR", ("-c", "--command")),
    "mysql": ("euhPDSA", ("-e", "--execute")),
    "mariadb": ("euhPDSA", ("-e", "--execute")),
    "clickhouse-client": ("qhudP", ("-q", "--query")),
}
_OPERAND_SQL = {"sqlite3": ("-cmd",), "duckdb": ("-c", "-s", "-cmd")}
_SQLITE_VALUED = frozenset({"-separator", "-newline", "-nullvalue", "-init", "-vfs", "-maxsize", "-mmap",
                            "-pagecache", "-lookaside", "-heap", "-A", "-ascii"})
SQL_CLIENTS = frozenset(_OPTION_SQL) | frozenset(_OPERAND_SQL)

_DROP = re.compile(r"\bDROP\s+(TABLE|DATABASE|SCHEMA|VIEW|INDEX|USER|ROLE|SEQUENCE|FUNCTION|PROCEDURE|TRIGGER"
                   r"|TYPE|EXTENSION|OWNED|MATERIALIZED|COLUMN|CONSTRAINT|COLLECTION)\b")
_TRUNCATE = re.compile(r"\bTRUNCATE\b")
_DELETE = re.compile(r"\bDELETE\s+FROM\b")
_UPDATE = re.compile(r"^\s*UPDATE\b.*\bSET\b")
_WHERE = re.compile(r"\bWHERE\b")


def sql_danger(text: str) -> str | None:
    """What in `text` loses data, or None."""
    for statement in text.split(";"):
        flat = " ".join(statement.upper().split())
        if match := _DROP.search(flat):
            return f"DROP {match.group(1)}"
        if _TRUNCATE.search(flat):
            return "TRUNCATE"
        if _DELETE.search(flat) and not _WHERE.search(flat):
            return "DELETE FROM without WHERE"
        if _UPDATE.search(flat) and not _WHERE.search(flat):
            return "UPDATE without WHERE"
    return None


def check_sql(call: Call, sink: Sink) -> None:
    texts = _option_sql(call) if call.name in _OPTION_SQL else _operand_sql(call)
    fed = call.stdin_code()
    if fed is not None:
        texts.append(Word(fed[0], fed[0], fed[1]))
    if call.piped_in:
        texts.extend(_upstream_literals(call))
    for text in texts:
        danger = sql_danger(text.value)
        if danger:
            sink.destructive(f"{call.name}: {danger}")
        elif text.dynamic:
            sink.unknown(f"{call.name}: SQL built at run time")


def _option_sql(call: Call) -> list[Word]:
    takes, names = _OPTION_SQL[call.name]
    long_values = frozenset({names[1], "--host", "--user", "--database", "--dbname", "--port", "--file"})
    return scan_options(call.args, takes_value=takes, long_values=long_values).value(*names)


def _operand_sql(call: Call) -> list[Word]:
    texts: list[Word] = []
    operands: list[Word] = []
    args = call.args
    index = 0
    while index < len(args):
        word = args[index]
        if word.value in _OPERAND_SQL[call.name] and index + 1 < len(args):
            texts.append(args[index + 1])
            index += 2
        elif word.value in _SQLITE_VALUED:
            index += 2
        elif word.value.startswith("-") and not operands:
            index += 1
        else:
            operands.append(word)
            index += 1
    return texts + operands[1:]


def _upstream_literals(call: Call) -> list[Word]:
    """`echo "DROP TABLE x" | psql`: the words echoed upstream are the SQL."""
    found: list[Word] = []
    for command in call.upstream:
        if command.words and command.words[0].value in ("echo", "printf", "cat"):
            found.extend(command.words[1:])
        for redirect in command.redirects:
            if redirect.heredoc is not None:
                found.append(Word(redirect.heredoc, redirect.heredoc, redirect.expands))
            elif redirect.op == "<<<" and redirect.target is not None:
                found.append(redirect.target)
    return found


def check_redis(call: Call, sink: Sink) -> None:
    if any(word.value.upper() in ("FLUSHALL", "FLUSHDB") for word in call.args):
        sink.destructive("redis-cli FLUSHALL/FLUSHDB empties the database")
