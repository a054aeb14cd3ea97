"""What every patch of moto's internals shares: the version guard's error, checks that the symbols a
patch relies on still exist with the parameters it expects, and a record of replaced attributes that
``restore_all`` undoes exactly.

Used by ``local_cloud.moto_speedups`` (speed-ups, switchable) and ``local_cloud.moto_cognito`` (local
Cognito features); each keeps its own supported version, symbol list and records.
"""

from __future__ import annotations

import importlib
import inspect
import threading
from collections.abc import Iterable
from typing import Any

Symbol = tuple[str, str, tuple[str, ...] | None]
"""(module, dotted attribute, the parameters a patch assumes; None: not checked as a function)."""

_ABSENT = object()
"""Recorded for an attribute the owner did not hold itself (inherited, or new): restoring deletes it."""


class UnsupportedMotoError(RuntimeError):
    """The installed moto is not the one a patch was checked against, or lacks what it relies on."""


def moto_version() -> str:
    import moto

    return str(moto.__version__)


def resolve(module: str, path: str) -> Any:
    """The object at ``module``.``path`` (class attributes as stored: a property, not its value)."""
    owner: Any = importlib.import_module(module)
    for part in path.split("."):
        owner = inspect.getattr_static(owner, part)
    return owner


def symbol_problems(symbols: Iterable[Symbol]) -> list[str]:
    """What is missing or changed among ``symbols``, one sentence each (empty: all as expected)."""
    problems: list[str] = []
    for module, path, parameters in symbols:
        try:
            target = resolve(module, path)
        except (ImportError, AttributeError):
            problems.append(f"{module}.{path} is missing")
            continue
        if parameters is not None:
            actual = tuple(inspect.signature(target).parameters)
            if actual != parameters:
                problems.append(f"{module}.{path} takes {actual}, the patch expects {parameters}")
    return problems


class Patches:
    """Attributes replaced on moto's classes and modules, in order, so they can be put back exactly."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.originals: list[tuple[Any, str, Any]] = []

    def replace(self, owner: Any, name: str, value: Any) -> None:
        self.originals.append((owner, name, vars(owner).get(name, _ABSENT)))
        setattr(owner, name, value)

    def restore_all(self) -> None:
        while self.originals:
            owner, name, original = self.originals.pop()
            if original is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, original)

    def __bool__(self) -> bool:
        return bool(self.originals)
