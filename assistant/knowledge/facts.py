"""A leaflet's figure as the limit it is: "at most 15 minutes", "within 48 hours", "40 to 120 minutes".

A bare number loses what the leaflet said about it: "use only for 15 minutes per
hour" is a ceiling, "stop eating at least 6 hours" a floor. Each fact names its
kind of limit; upper limits store only ``value_max``, lower limits only ``value_min``.
"""
from __future__ import annotations

# Kind of limit -> how it reads before the figure.
LIMITS = {
    "exactly": "",
    "about": "about ",
    "range": "",
    "at_least": "at least ",
    "more_than": "more than ",
    "at_most": "at most ",
    "up_to": "up to ",
    "less_than": "less than ",
    "within": "within ",
}
UPPER_LIMITS = frozenset({"at_most", "up_to", "less_than", "within"})
# Kinds that may give two figures ("about 3 to 6 hours", "within 1 to 2 days"); "range" must.
RANGE_LIMITS = frozenset({"range", "about", "within"})


def limit_values(kind: str, value: float | list[float]) -> tuple[float | None, float | None]:
    """(value_min, value_max) for a fact's ``value``: one figure, or a [low, high] pair.

    Raises ValueError saying what is wrong, for the loader to name the file and entry.
    """
    if kind not in LIMITS:
        raise ValueError(f"limit must be one of {sorted(LIMITS)}, not {kind!r}")
    if isinstance(value, list):
        if kind not in RANGE_LIMITS:
            raise ValueError(f"a '{kind}' limit takes one figure, not {value!r}")
        if len(value) != 2 or not all(is_number(v) for v in value) or not value[0] < value[1]:
            raise ValueError(f"a range is [low, high] with low < high, not {value!r}")
        return float(value[0]), float(value[1])
    if not is_number(value):
        raise ValueError(f"value must be a number or a [low, high] pair, not {value!r}")
    if kind == "range":
        raise ValueError("a 'range' limit needs [low, high]")
    return (None, float(value)) if kind in UPPER_LIMITS else (float(value), None)


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number_text(value: float) -> str:
    if value >= 1_000_000 and value % 1_000_000 == 0:
        return f"{value / 1_000_000:g} million"
    return f"{value:g}"


def fact_text(kind: str, value_min: float | None, value_max: float | None, unit: str) -> str:
    """How the figure reads: "at most 15 minutes", "about 3 to 6 hours", "more than 40 million people"."""
    figures = [number_text(value) for value in (value_min, value_max) if value is not None]
    return f"{LIMITS[kind]}{' to '.join(figures)} {unit}"
