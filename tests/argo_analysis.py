"""How Argo Rollouts turns one Prometheus measurement into a phase, for the condition forms this program renders.

Argo (metricproviders/prometheus + utils/evaluate, v1.9) hands a scalar answer to its expr-lang conditions as a
float64 `result`; NaN is passed on unchanged. EvaluateResult then says: failureCondition true -> Failed; neither
condition true -> Inconclusive; otherwise Successful. The program renders only `result <op> <number>`, which
expr-lang evaluates as an IEEE comparison (every comparison with NaN is false), exactly as Python's float does.
Any other form raises here, so a new condition shape cannot be tested by a wrong evaluator.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

_CONDITION = re.compile(r"^result (<=|<|>=|>|==|!=) (-?\d+(?:\.\d+)?(?:e-?\d+)?)$")
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
    "!=": operator.ne,
}


def condition_holds(condition: str, result: float) -> bool:
    match = _CONDITION.fullmatch(condition)
    if match is None:
        raise ValueError(f"condition form {condition!r} is not one this evaluator knows; extend it faithfully to expr-lang")
    return _OPERATORS[match[1]](result, float(match[2]))


def measurement_phase(metric: dict[str, Any], result: float) -> str:
    """Successful, Failed or Inconclusive, as Argo's EvaluateResult decides for a scalar result."""
    success_condition, failure_condition = metric.get("successCondition", ""), metric.get("failureCondition", "")
    success = condition_holds(success_condition, result) if success_condition else False
    failure = condition_holds(failure_condition, result) if failure_condition else False
    if not success_condition and not failure_condition:
        return "Successful"
    if success_condition and not failure_condition:
        failure = not success
    elif failure_condition and not success_condition:
        success = not failure
    if failure:
        return "Failed"
    if not success:
        return "Inconclusive"
    return "Successful"
