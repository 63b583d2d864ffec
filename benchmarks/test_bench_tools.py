"""Tools from Python functions (issue 15): deriving the schema, and the per-call work before a tool runs.

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_tools.py --benchmark-only
--benchmark-columns=min,median,ops``. The target: deriving the schema of a
20-parameter function under 1 ms (``derive``, uncached); ``Tool.from_function`` on a
function seen before reads the per-function cache. ``call_arguments`` is what
:func:`alchemy.run_tools` does before each call (validation with coercion, then the
conversion to the annotated types).
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Annotated, Any, Literal, Optional, TypedDict

from alchemy import Tool
from alchemy.function_tools import _derive_uncached


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


@dataclasses.dataclass
class Point:
    lat: float
    lon: float = 0.0


class Address(TypedDict):
    street: str
    number: int


def twenty(
    a0: str, a1: int, a2: float, a3: bool, a4: list[str], a5: dict[str, int], a6: Literal["x", "y"], a7: Unit,
    a8: Point, a9: Optional[int] = None, b0: str = "", b1: int = 0, b2: float = 0.0, b3: bool = False,
    b4: list[int] | None = None, b5: set[str] | None = None, b6: tuple[int, int] = (0, 0), b7: Address | None = None,
    b8: Annotated[str, "A described one"] = "", b9: Any = None,
) -> None:  # fmt: skip
    """Twenty parameters of every kind.

    Args:
        a0: The first.
        a1: The second.
        a2: The third.
    """


ARGUMENTS = {
    "a0": "text", "a1": "5", "a2": 2.5, "a3": True, "a4": ["p", "q"], "a5": {"k": 1}, "a6": "x", "a7": "celsius",
    "a8": {"lat": 1.0, "lon": 2.0}, "b4": [1, 2], "b6": [3, 4], "b7": {"street": "Rue", "number": 7},
}  # fmt: skip


def test_derive_a_20_parameter_schema(benchmark: Any) -> None:
    derived = benchmark(_derive_uncached, twenty)
    assert len(derived.params) == 20


def test_from_function_cached(benchmark: Any) -> None:
    Tool.from_function(twenty)
    tool = benchmark(Tool.from_function, twenty)
    assert len(tool.parameters["properties"]) == 20


def test_call_arguments_of_a_20_parameter_tool(benchmark: Any) -> None:
    tool = Tool.from_function(twenty)
    tool.call_arguments(ARGUMENTS)  # compiles and caches the validator
    args, kwargs = benchmark(tool.call_arguments, ARGUMENTS)
    assert kwargs["a7"] is Unit.CELSIUS and kwargs["a8"] == Point(1.0, 2.0)
