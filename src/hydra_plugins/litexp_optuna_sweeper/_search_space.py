"""Hydra's sweep syntax as Optuna distributions.

``choice(a, b)`` or ``a,b`` -> categorical; ``interval(lo, hi)`` -> float (int if both
ends are ints); ``range(lo, hi[, step])`` -> int/float with a step (``hi`` excluded, as in
Python); ``tag(log, ...)`` -> log scale. A plain ``key=value`` is passed to every trial.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

Primitive = (bool, int, float, str)


@dataclass
class SearchParam:
    """One searched key: its distribution and how a sampled value is written as an override."""

    key: str
    distribution: BaseDistribution
    # categorical: sampled choice -> the override text (lists, dicts, quoted strings)
    texts: dict[Any, str] = field(default_factory=dict)

    def override(self, value: Any) -> str:
        return f"{self.key}={self.texts.get(value, value)}"


def _choice(override: Override, sweep: ChoiceSweep) -> SearchParam:
    values, texts = list(override.sweep_iterator()), list(override.sweep_string_iterator())
    native = all(isinstance(v, Primitive) for v in values) and len(set(values)) == len(values)
    choices = values if native else texts
    return SearchParam(
        override.get_key_element(),
        CategoricalDistribution(choices),
        dict(zip(choices, texts, strict=True)),
    )


def _number(override: Override, sweep: IntervalSweep | RangeSweep) -> SearchParam:
    key, log = override.get_key_element(), "log" in sweep.tags
    if isinstance(sweep, IntervalSweep):
        lo, hi = sweep.start, sweep.end
        if isinstance(lo, int) and isinstance(hi, int):
            return SearchParam(key, IntDistribution(lo, hi, log=log))
        return SearchParam(key, FloatDistribution(float(lo), float(hi), log=log))
    lo, stop, step = sweep.start, sweep.stop, sweep.step
    if step <= 0 or stop <= lo:
        raise ValueError(
            f"{key}=range({lo}, {stop}, {step}) is invalid: needs start < stop, step > 0"
        )
    last = lo + step * ((stop - lo - 1e-12) // step)  # range() excludes stop; Optuna includes high
    if all(isinstance(v, int) for v in (lo, stop, step)):
        return SearchParam(key, IntDistribution(int(lo), int(last), step=int(step), log=log))
    return SearchParam(key, FloatDistribution(float(lo), float(last), step=float(step)))


def parse_search_space(
    params: Mapping[str, Any], arguments: Sequence[str]
) -> tuple[list[str], dict[str, SearchParam]]:
    """The fixed overrides and the searched keys of ``params`` plus the command line.

    A key given on the command line replaces the same key in ``params``.
    """
    lines = {str(k): f"{k}={v}" for k, v in params.items()}
    parser = OverridesParser.create()
    for override in parser.parse_overrides(list(arguments)):
        lines[override.get_key_element()] = override.input_line
    fixed: list[str] = []
    space: dict[str, SearchParam] = {}
    for override in parser.parse_overrides(list(lines.values())):
        value = override.value()
        if not override.is_sweep_override():
            fixed.append(override.input_line)
        elif isinstance(value, ChoiceSweep):
            space[override.get_key_element()] = _choice(override, value)
        elif isinstance(value, (IntervalSweep, RangeSweep)):
            space[override.get_key_element()] = _number(override, value)
        else:
            raise ValueError(
                f"{override.input_line} is invalid for the Optuna sweeper: use choice(...), "
                "interval(lo, hi), range(lo, hi, step) or tag(log, interval(lo, hi))"
            )
    return fixed, space
