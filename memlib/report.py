"""What a chapter says about its numbers: "mean ± sd" cells, designed Markdown tables, and the words of direction
and comparison, each computed from the measured values (ARCHITECTURE.md, "Chapters", step 4).

Every chapter formats its measurements through this module, so a cell reads the same way everywhere: percentages
as "12.3 ± 0.4%", a missing value as "—", never NaN.
"""
import math
import numbers

MISSING = "—"


def mean_sd(values, scale=100, unit="%", digits=1) -> str:
    """"mean ± sd" of ``values`` (missing ones left out) times ``scale``, for a table cell: the mean alone for
    one value, "—" for none. ``mean_sd(values, 1, "")`` for plain numbers such as epochs."""
    import pandas as pd

    values = pd.Series(values, dtype=float).dropna() * scale
    if len(values) > 1:
        return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}{unit}"
    return f"{values.mean():.{digits}f}{unit}" if len(values) else MISSING


def percent(value, digits=1) -> str:
    """A fraction as a percentage ("12.3%"), "—" when missing."""
    return MISSING if _missing(value) else f"{100 * value:.{digits}f}%"


def number(value, digits=2) -> str:
    """A number with ``digits`` decimals (an integer as it is), "—" when missing."""
    if _missing(value):
        return MISSING
    if isinstance(value, numbers.Integral):
        return str(int(value))
    return f"{value:.{digits}f}"


def table(rows, columns) -> str:
    """A Markdown table: ``rows`` are dicts (or a DataFrame's records), ``columns`` maps each key to its header,
    or to ``(header, format)`` where ``format`` is a function of the value or a format spec such as ".1%".
    Missing values show as "—"; "|" in a cell is escaped."""
    if hasattr(rows, "to_dict"):
        rows = rows.to_dict("records")
    specs = {key: spec if isinstance(spec, tuple) else (spec, None) for key, spec in columns.items()}
    lines = ["| " + " | ".join(header for header, _ in specs.values()) + " |",
             "|" + "---|" * len(specs)]
    for row in rows:
        cells = [_cell(row.get(key), fmt) for key, (_, fmt) in specs.items()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def trend(values, up, down, flat="stays the same", mixed="does not move in one direction") -> str:
    """Which way a sequence moves from each value to the next: ``up`` if it always rises, ``down`` if it always
    falls, ``flat`` if it never changes, else ``mixed``."""
    steps = [b - a for a, b in zip(values, values[1:])]
    if steps and all(s > 0 for s in steps):
        return up
    if steps and all(s < 0 for s in steps):
        return down
    return flat if all(s == 0 for s in steps) else mixed


def compare(value, other, more, less, same, tolerance=0.0) -> str:
    """``more`` if ``value`` exceeds ``other`` by more than ``tolerance``, ``less`` if it falls short by more,
    else ``same``; "—" when either is missing."""
    if _missing(value) or _missing(other):
        return MISSING
    return more if value - other > tolerance else less if other - value > tolerance else same


def count(k, n, noun) -> str:
    """"every seed", "no seed" or "2 of 3 seeds" (``noun`` singular)."""
    if n and k == n:
        return f"every {noun}" if n > 1 else f"the one {noun}"
    if k == 0:
        return f"no {noun}"
    return f"{k} of {n} {noun}s"


def plural(n, noun) -> str:
    """"1 seed", "3 seeds"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _cell(value, fmt) -> str:
    if _missing(value):
        return MISSING
    if callable(fmt):
        text = fmt(value)
    elif fmt:
        text = format(value, fmt)
    else:
        text = number(value) if isinstance(value, float) else str(value)
    return str(text).replace("|", "\\|")


def _missing(value) -> bool:
    return value is None or (isinstance(value, numbers.Real) and math.isnan(value))


def t_interval(values, confidence=0.95):
    """(mean, low, high): the mean of ``values`` (missing ones left out) and its ``confidence`` t-interval,
    mean ± t · s / √n; low and high are None with fewer than 2 values, all three with none."""
    import numpy as np
    from scipy import stats

    values = np.array([v for v in values if not _missing(v)], dtype=float)
    if len(values) == 0:
        return None, None, None
    mean = float(values.mean())
    if len(values) < 2:
        return mean, None, None
    half = stats.t.ppf((1 + confidence) / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return mean, mean - half, mean + half


def decide(estimate, smallest, also=True) -> str:
    """A rule stated before the runs, applied to a :func:`t_interval` ``estimate`` of an effect: "supported" if the
    mean is at least ``smallest``, the interval excludes 0 and ``also`` holds; "refuted" if the whole interval lies
    below ``smallest``; else "neither" (always with no interval)."""
    mean, low, high = estimate
    if low is None:
        return "neither"
    if mean >= smallest and low > 0 and also:
        return "supported"
    return "refuted" if high < smallest else "neither"


def difference(value, more, less, same, scale=100, unit=" points", digits=1) -> str:
    """A signed difference in words: ``more`` or ``less`` with ``{}`` replaced by the amount (``|value| · scale``
    with ``digits`` decimals and ``unit``), or ``same`` where the amount rounds to zero; "—" when missing."""
    if _missing(value):
        return MISSING
    amount = f"{abs(value) * scale:.{digits}f}"
    if float(amount) == 0:
        return same
    return (more if value > 0 else less).format(amount + unit)


def all_of(answers) -> str:
    """A claim that needs every link: "supported" if every answer is, "refuted" if any is, else "neither supported
    nor refuted"."""
    answers = list(answers)
    if answers and all(a == "supported" for a in answers):
        return "supported"
    return "refuted" if "refuted" in answers else "neither supported nor refuted"
