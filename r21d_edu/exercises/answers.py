"""What an exercise takes as an answer, and the one rule that turns a hand-in into it.

Every exercise states its answer's type with one of these specs (``expects=`` of
`register`), and `Exercise.check` coerces the hand-in before the check sees it, so
every exercise takes the same things and refuses the same things with the same words:

- a list for a tuple and a tuple for a list (``[1, 8, 6, 30, 30]`` or a
  ``torch.Size``), a list or tuple for a set;
- NumPy scalars and 0-d tensors for numbers (``np.int64(144)``, ``x.sum()``), and a
  whole float for an int (``144.0``);
- never a bool for a number, nor a number for a bool, nor text for either: the
  message says plainly what type was expected and what came;
- a share (``Number(share=True)``) lies in [0, 1]: 50 for 0.5 gets a hint that it
  reads like a percentage, not a verdict;
- a word (`Choice`) is compared without case, spaces, hyphens or underscores, and a
  near miss ("grow" for "grows") is told that it is none of the choices, listing them
  all, so the message never singles out the right one.

A coercion error is an `Incorrect` whose message names what was expected; it never
depends on the right answer, only on the spec.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "Anything",
    "Bool",
    "Choice",
    "DictOf",
    "Function",
    "Incorrect",
    "Int",
    "ListOf",
    "MappingOf",
    "Module",
    "ModuleClass",
    "Number",
    "Ranking",
    "SetOf",
    "Spec",
    "TupleOf",
    "describe",
]


class Incorrect(AssertionError):
    """Raised by a check when an answer is wrong; its message says what and why."""


def describe(value: Any) -> str:
    """A short, plain description of a value: its type, and the value when it is short."""
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return f"the bool {bool(value)}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the str {shown!r}"
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    if isinstance(value, np.ndarray):
        return f"a NumPy array of shape {value.shape}"
    if isinstance(value, numbers.Number):
        return f"the {type(value).__name__} {value!r}"
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        size = len(value)
        return f"a {type(value).__name__} of {size} item{'s' if size != 1 else ''}"
    if isinstance(value, type):
        return f"the class {value.__name__}"
    if callable(value):
        return f"the function {getattr(value, '__name__', type(value).__name__)}"
    return f"a {type(value).__name__}"


def _where(where: str) -> str:
    return f"{where}: " if where else ""


def _zero_dim(value: Any) -> bool:
    return (isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 0
            and not (isinstance(value, torch.Tensor) and value.is_complex()))


def _plain(value: Any) -> Any:
    """A NumPy scalar or a 0-d tensor/array as the Python number or bool it holds."""
    if isinstance(value, np.generic):
        return value.item()
    if _zero_dim(value):
        return value.item()
    return value


class Spec:
    """What an answer must be. `coerce` returns it in its canonical form or raises."""

    #: How the type reads in a message, e.g. "an int".
    text = "an answer"

    def coerce(self, value: Any, where: str = "") -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def refuse(self, value: Any, where: str, extra: str = "") -> Incorrect:
        return Incorrect(f"{_where(where)}expected {self.text}, got {describe(value)}{extra}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.text!r})"


class Anything(Spec):
    """Any value, as it came (the check says what it needs)."""

    def __init__(self, text: str = "an answer") -> None:
        self.text = text

    def coerce(self, value: Any, where: str = "") -> Any:
        return value


class Int(Spec):
    """A whole number: int, NumPy integer, 0-d tensor, or a float with no fraction."""

    def __init__(self, minimum: int | None = None) -> None:
        self.minimum = minimum
        self.text = "an int" if minimum is None else f"an int >= {minimum}"

    def coerce(self, value: Any, where: str = "") -> int:
        plain = _plain(value)
        if isinstance(plain, bool) or not isinstance(plain, numbers.Real):
            extra = "; hand in the number itself, without quotes" if isinstance(value, str) else ""
            raise self.refuse(value, where, extra)
        if isinstance(plain, numbers.Integral):
            number = int(plain)
        else:
            as_float = float(plain)
            if not math.isfinite(as_float) or as_float != int(as_float):
                raise Incorrect(f"{_where(where)}expected {self.text} (a whole number), got "
                                f"{describe(value)}")
            number = int(as_float)
        if self.minimum is not None and number < self.minimum:
            raise Incorrect(f"{_where(where)}expected {self.text}, got {number}")
        return number


class Number(Spec):
    """A finite real number (int, float, NumPy number or 0-d tensor), optionally in range.

    ``share=True`` means a fraction in [0, 1]: a value in (1, 100] gets the hint that it
    reads like a percentage.
    """

    def __init__(self, minimum: float | None = None, maximum: float | None = None, *,
                 above: float | None = None, share: bool = False) -> None:
        if share:
            minimum, maximum = 0.0, 1.0
        self.minimum, self.maximum, self.above, self.share = minimum, maximum, above, share
        if share:
            self.text = "a fraction between 0 and 1 (a float)"
        elif above is not None:
            self.text = f"a number > {above:g}"
        elif minimum is not None and maximum is not None:
            self.text = f"a number between {minimum:g} and {maximum:g}"
        elif minimum is not None:
            self.text = f"a number >= {minimum:g}"
        else:
            self.text = "a number (a float)"

    def coerce(self, value: Any, where: str = "") -> float:
        plain = _plain(value)
        if isinstance(plain, bool) or not isinstance(plain, numbers.Real):
            extra = "; hand in the number itself, without quotes" if isinstance(value, str) else ""
            raise self.refuse(value, where, extra)
        number = float(plain)
        if not math.isfinite(number):
            raise Incorrect(f"{_where(where)}expected {self.text}, got {number!r}: a finite "
                            "number is needed")
        if self.share and 1 < number <= 100:
            raise Incorrect(f"{_where(where)}expected a fraction between 0 and 1, got {number:g}; "
                            "that reads like a percentage — hand in the fraction (a share "
                            "of 1, not of 100)")
        low_ok = (self.minimum is None or number >= self.minimum) and (
            self.above is None or number > self.above)
        if not low_ok or (self.maximum is not None and number > self.maximum):
            raise Incorrect(f"{_where(where)}expected {self.text}, got {number:g}")
        return number


class Bool(Spec):
    """True or False (a NumPy bool or a 0-d bool tensor too); never 0/1 or a word."""

    text = "True or False (a bool)"

    def coerce(self, value: Any, where: str = "") -> bool:
        plain = _plain(value)
        if isinstance(plain, bool):
            return plain
        extra = ""
        if isinstance(value, str):
            extra = "; hand in True or False without quotes"
        elif isinstance(plain, numbers.Number):
            extra = "; a bool is True or False, not a number"
        raise self.refuse(value, where, extra)


def _normal(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch not in " -_·")


class Choice(Spec):
    """One of a few words. Case, spaces, hyphens and underscores do not matter; aliases
    map other spellings onto a choice ({"compute-bound": "compute"})."""

    def __init__(self, *options: str, aliases: Mapping[str, str] | None = None) -> None:
        if len(options) < 2:
            raise ValueError("a Choice needs at least two options")
        self.options = tuple(options)
        self.aliases = {_normal(k): v for k, v in (aliases or {}).items()}
        for target in self.aliases.values():
            if target not in self.options:
                raise ValueError(f"alias target {target!r} is not an option")
        self.text = "one of " + ", ".join(repr(o) for o in self.options)

    def coerce(self, value: Any, where: str = "") -> str:
        if not isinstance(value, str):
            raise self.refuse(value, where, "; hand in the word as a str, in quotes")
        key = _normal(value)
        for option in self.options:
            if key == _normal(option):
                return option
        if key in self.aliases:
            return self.aliases[key]
        names = [_normal(o) for o in self.options] + list(self.aliases)
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.75) or [
            n for n in names if key and (n.startswith(key) or key.startswith(n))]
        if close:
            raise Incorrect(f"{_where(where)}{value!r} is close to one of the choices but is "
                            f"none of them: hand in exactly {self.text}")
        raise Incorrect(f"{_where(where)}expected {self.text}, got {value!r}")


def _items(value: Any, what: str, where: str, spec: Spec) -> list[Any]:
    if isinstance(value, (torch.Tensor, np.ndarray)):
        if value.ndim != 1:
            raise spec.refuse(value, where)
        return list(value.tolist())
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (Sequence, set,
                                                                           frozenset)):
        raise spec.refuse(value, where)
    if isinstance(value, (set, frozenset)) and what != "set":
        raise spec.refuse(value, where, "; a set has no order — use a list or tuple")
    return list(value)


class TupleOf(Spec):
    """A fixed number of values, each with its own spec and name: (M, weights).
    A list, a tuple, a torch.Size or a 1-d array/tensor is taken."""

    def __init__(self, *items: tuple[str, Spec] | Spec) -> None:
        self.items = [item if isinstance(item, tuple) else ("", item) for item in items]
        names = [name for name, _ in self.items]
        inner = ", ".join(names) if all(names) else ""
        self.text = (f"a tuple of {len(self.items)} values" + (f" ({inner})" if inner else ""))

    def coerce(self, value: Any, where: str = "") -> tuple:
        values = _items(value, "tuple", where, self)
        if len(values) != len(self.items):
            raise Incorrect(f"{_where(where)}expected {self.text}, got {len(values)} "
                            f"value{'s' if len(values) != 1 else ''}")
        out = []
        for position, ((name, spec), item) in enumerate(zip(self.items, values)):
            label = name or f"value {position + 1}"
            out.append(spec.coerce(item, f"{where + ', ' if where else ''}{label}"))
        return tuple(out)


class ListOf(Spec):
    """Any number of values of one spec, in order (a tuple or a 1-d tensor too)."""

    def __init__(self, item: Spec, what: str = "") -> None:
        self.item = item
        self.text = f"a list of {what or item.text.removeprefix('an ').removeprefix('a ')}s"

    def coerce(self, value: Any, where: str = "") -> list:
        values = _items(value, "list", where, self)
        return [self.item.coerce(v, f"{where + ', ' if where else ''}item {i + 1}")
                for i, v in enumerate(values)]


class SetOf(Spec):
    """Values of one spec whose order does not matter (a list or tuple is taken too)."""

    def __init__(self, item: Spec, what: str = "") -> None:
        self.item = item
        self.text = f"a set of {what or item.text}"

    def coerce(self, value: Any, where: str = "") -> frozenset:
        values = _items(value, "set", where, self)
        return frozenset(self.item.coerce(v, where) for v in values)


class Ranking(Spec):
    """Each of some names once, in an order (fastest first, say)."""

    def __init__(self, *names: str) -> None:
        self.names = tuple(names)
        self.choice = Choice(*names)
        self.text = "a list of " + ", ".join(repr(n) for n in names) + " in your order"

    def coerce(self, value: Any, where: str = "") -> tuple[str, ...]:
        values = [self.choice.coerce(v, where) for v in _items(value, "list", where, self)]
        if sorted(values) != sorted(self.names):
            raise Incorrect(f"{_where(where)}expected {self.text}, each once")
        return tuple(values)


def _key_matches(given: Any, key: Any) -> bool:
    if isinstance(key, str):
        return isinstance(given, str) and given == key
    given = _plain(given)
    return (not isinstance(given, bool) and isinstance(given, numbers.Real)
            and float(given) == float(key))


class DictOf(Spec):
    """A dict with fixed keys, each value with its spec: {'bytes': Int(), 'ratio': Number()}.
    Number keys match numerically (0 for 0.0)."""

    def __init__(self, fields: Mapping[Any, Spec], text: str = "") -> None:
        self.fields = dict(fields)
        keys = ", ".join(repr(k) for k in self.fields)
        self.text = text or f"a dict with the keys {keys}"

    def coerce(self, value: Any, where: str = "") -> dict:
        if not isinstance(value, Mapping):
            raise self.refuse(value, where)
        out, used = {}, set()
        for key, spec in self.fields.items():
            found = [k for k in value if _key_matches(k, key)]
            if not found:
                raise Incorrect(f"{_where(where)}expected {self.text}; the key {key!r} is "
                                "missing")
            used.add(found[0])
            out[key] = spec.coerce(value[found[0]], f"{where + ', ' if where else ''}{key!r}")
        extra = [k for k in value if k not in used]
        if extra:
            raise Incorrect(f"{_where(where)}expected {self.text}; {extra[0]!r} is not one of "
                            "them")
        return out


class MappingOf(Spec):
    """A dict whose keys the check knows (names of layers, say): keys and values by spec."""

    def __init__(self, key: Spec, value: Spec, text: str = "") -> None:
        self.key, self.value = key, value
        self.text = text or f"a dict of {key.text} -> {value.text}"

    def coerce(self, value: Any, where: str = "") -> dict:
        if not isinstance(value, Mapping):
            raise self.refuse(value, where)
        return {self.key.coerce(k, where): self.value.coerce(v, f"{where + ', ' if where else ''}"
                                                                f"{k!r}")
                for k, v in value.items()}


class Function(Spec):
    """A function (anything callable that is not a class)."""

    def __init__(self, text: str = "a function") -> None:
        self.text = text

    def coerce(self, value: Any, where: str = "") -> Callable:
        if isinstance(value, type) or not callable(value):
            extra = "; hand in the function itself, without calling it" if not callable(
                value) and value is not None else ""
            raise self.refuse(value, where, extra)
        return value


class ModuleClass(Spec):
    """A subclass of torch.nn.Module (the class, not an instance)."""

    def __init__(self, text: str = "an nn.Module class") -> None:
        self.text = text

    def coerce(self, value: Any, where: str = "") -> type:
        if isinstance(value, torch.nn.Module):
            raise self.refuse(value, where, "; hand in the class itself, not an instance of it")
        if not (isinstance(value, type) and issubclass(value, torch.nn.Module)):
            raise self.refuse(value, where)
        return value


class Module(Spec):
    """An instance of torch.nn.Module (a layer)."""

    def __init__(self, text: str = "a layer (an nn.Module)") -> None:
        self.text = text

    def coerce(self, value: Any, where: str = "") -> torch.nn.Module:
        if not isinstance(value, torch.nn.Module):
            raise self.refuse(value, where)
        return value
