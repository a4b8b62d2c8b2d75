"""A stand-in for ``pyodide.ffi``: JS values as Python objects, and the conversions.

Only what the workers SDK and ``llm_api.platform.workers.provider`` touch, with Pyodide's
semantics where they matter: ``to_js`` makes a ``Map`` unless given a
``dict_converter``; ``to_py`` turns plain objects and arrays into dicts and lists and
leaves other JS objects to ``default_converter``; JS ``null`` is ``jsnull``,
``undefined`` is ``None``; awaiting a rejected promise raises ``JsException``.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterable, Iterator
from types import SimpleNamespace
from typing import Any

_ids = itertools.count(1)


class JsProxy:
    """Base of every fake JS value. ``js_name`` is what ``constructor.name`` says."""

    js_name = "Object"

    @property
    def constructor(self) -> SimpleNamespace:
        return SimpleNamespace(name=self.js_name)

    @property
    def js_id(self) -> int:
        if "_js_id" not in self.__dict__:
            self.__dict__["_js_id"] = next(_ids)
        return self.__dict__["_js_id"]

    def to_py(self, *, depth: int = -1, default_converter: Callable[..., Any] | None = None) -> Any:
        if default_converter is None:
            return self
        return default_converter(self, _convert_to_py, {})


class JsNull(JsProxy):
    js_name = "null"

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "jsnull"


jsnull = JsNull()


class JsObject(JsProxy):
    """A plain JS object: its properties are attributes."""

    def __init__(self, entries: dict[str, Any] | None = None) -> None:
        self.__dict__["_entries"] = dict(entries or {})

    @property
    def js_entries(self) -> dict[str, Any]:
        return self.__dict__["_entries"]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_entries"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self.__dict__["_entries"][name] = value

    def to_py(self, *, depth: int = -1, default_converter: Callable[..., Any] | None = None) -> Any:
        return {key: _to_py(value, default_converter) for key, value in self.js_entries.items()}

    def __repr__(self) -> str:
        return f"JsObject({self.js_entries!r})"


class JsMap(JsProxy):
    """What plain ``to_js(dict)`` makes: bindings reject it."""

    js_name = "Map"

    def __init__(self, entries: dict[Any, Any]) -> None:
        self.js_entries = dict(entries)

    def to_py(self, *, depth: int = -1, default_converter: Callable[..., Any] | None = None) -> Any:
        return {key: _to_py(value, default_converter) for key, value in self.js_entries.items()}


class JsArray(JsProxy):
    js_name = "Array"

    def __init__(self, items: Iterable[Any] = ()) -> None:
        self.items = list(items)

    @property
    def length(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Any:
        return self.items[index]

    def push(self, item: Any) -> None:
        self.items.append(item)

    def to_py(self, *, depth: int = -1, default_converter: Callable[..., Any] | None = None) -> Any:
        return [_to_py(item, default_converter) for item in self.items]


class Uint8Array(JsProxy):
    js_name = "Uint8Array"

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)

    @property
    def byteLength(self) -> int:
        return len(self.data)

    def slice(self) -> Uint8Array:
        return Uint8Array(self.data)

    def to_bytes(self) -> bytes:
        return self.data


class JsPromise(JsProxy):
    """A promise: awaitable, with ``then`` (how the SDK's binding wrapper spots one)."""

    js_name = "Promise"

    def __init__(self, make: Callable[[], Awaitable[Any]]) -> None:
        self._make = make  # the coroutine is made when awaited, so none is left unawaited

    def then(self, *callbacks: Any) -> None:
        raise NotImplementedError("await the promise instead")

    def __await__(self):
        return self._make().__await__()


class JsException(Exception):
    """A JS error thrown into Python: ``name`` and ``message`` as JS has them."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


class ConversionError(Exception):
    pass


class PyProxy:
    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self.destroyed = False

    def getBuffer(self) -> SimpleNamespace:
        return SimpleNamespace(data=Uint8Array(bytes(self.obj)), release=lambda: None)

    def destroy(self) -> None:
        self.destroyed = True


JsBuffer = Uint8Array


def create_proxy(obj: Any, **_: Any) -> PyProxy:
    return PyProxy(obj)


def create_once_callable(func: Callable[..., Any], **_: Any) -> Callable[..., Any]:
    return func


def destroy_proxies(proxies: Any) -> None:
    return None


def to_js(
    value: Any,
    *,
    depth: int = -1,
    pyproxies: Any = None,
    create_pyproxies: bool = True,
    dict_converter: Callable[[JsArray], Any] | None = None,
    default_converter: Callable[..., Any] | None = None,
    eager_converter: Callable[..., Any] | None = None,
) -> Any:
    def convert(item: Any) -> Any:
        if isinstance(item, JsProxy) or item is None or isinstance(item, str | bool | int | float):
            return item  # None is JS undefined
        if isinstance(item, bytes | bytearray | memoryview):
            return Uint8Array(bytes(item))
        if isinstance(item, dict):
            if dict_converter is None:
                return JsMap({key: convert(v) for key, v in item.items()})
            return dict_converter(JsArray(JsArray([key, convert(v)]) for key, v in item.items()))
        if isinstance(item, list | tuple):
            return JsArray(convert(v) for v in item)
        if default_converter is not None:
            return default_converter(item, convert, {})
        if not create_pyproxies:
            raise ConversionError(f"cannot convert {type(item).__name__} without a PyProxy")
        return PyProxy(item)

    return convert(value)


def _to_py(value: Any, default_converter: Callable[..., Any] | None) -> Any:
    if isinstance(value, JsObject | JsArray | JsMap):
        return value.to_py(default_converter=default_converter)
    if isinstance(value, JsProxy) and value is not jsnull and default_converter is not None:
        return default_converter(value, _convert_to_py, {})
    return value


def _convert_to_py(value: Any) -> Any:
    return _to_py(value, None)
