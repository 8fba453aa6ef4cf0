"""Transparent scoring models (Art. 22): weighted features over declared fields and a threshold.

A model is YAML such as:

    id: upsell
    description: Likely to welcome a premium offer
    threshold: 3
    features:
      - {field: customer_value, weight: 0.01}            # numeric: weight x value
      - {field: vip, weight: 2}                          # boolean: weight when true
      - {field: country, op: in, value: [DE, AT], weight: 1}   # condition: weight when it holds

`score` returns the outcome (`above` when the sum reaches the threshold, else `below`) and
every factor with its contribution, which is the stored explanation.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from candor.core.errors import InvalidInput

Op = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "between", "exists"]
Scalar = str | int | float | bool | None


class Feature(BaseModel):
    """One factor: a field's weight, applied to its value or when `op`/`value` holds."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, max_length=64)
    weight: float
    op: Op | None = None
    value: Scalar | list[Scalar] = None
    description: str = ""


class ScoringModel(BaseModel):
    """A linear score compared with a threshold (the shape of the journey `score` step)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field("score", max_length=64)
    description: str = ""
    features: list[Feature] = Field(min_length=1)
    threshold: float


def parse_model(data: Any) -> ScoringModel:
    """A model from YAML text, a mapping, or a journey step's model; InvalidInput on problems."""
    if isinstance(data, str):
        try:
            data = yaml.safe_load(data)
        except yaml.YAMLError:
            raise InvalidInput("model", "is not valid YAML") from None
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    try:
        return ScoringModel.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise InvalidInput(f"model.{where}" if where else "model", err["msg"]) from None


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def holds(op: str, value: Any, operand: Any) -> bool:
    """Whether `value op operand` holds; a missing value or a type clash never holds."""
    if op == "exists":
        return (value is not None) == (operand is not False)
    if value is None:
        return False
    value = _comparable(value)
    try:
        if op == "eq":
            return bool(value == operand)
        if op == "ne":
            return bool(value != operand)
        if op == "in":
            return value in (operand or [])
        if op == "between":
            low, high = operand
            return bool(low <= value <= high)
        compare = {
            "lt": value < operand,
            "le": value <= operand,
            "gt": value > operand,
            "ge": value >= operand,
        }
        return bool(compare[op])
    except (TypeError, ValueError):
        return False


def contribution(feature: Feature, value: Any) -> float:
    """What one feature adds to the score for this value."""
    if feature.op is not None:
        return feature.weight if holds(feature.op, value, feature.value) else 0.0
    if isinstance(value, bool):
        return feature.weight if value else 0.0
    if isinstance(value, int | float):
        return feature.weight * float(value)
    return 0.0


def score(model: ScoringModel | Any, fields: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """Evaluate the model on the given fields: (outcome, factors with their contributions)."""
    model = model if isinstance(model, ScoringModel) else parse_model(model)
    factors = []
    for feature in model.features:
        value = _comparable(fields.get(feature.field))
        factors.append(
            {
                "field": feature.field,
                "value": value,
                "op": feature.op,
                "operand": feature.value,
                "weight": feature.weight,
                "contribution": round(contribution(feature, value), 6),
                "description": feature.description,
            }
        )
    total = sum(f["contribution"] for f in factors)
    return ("above" if total >= model.threshold else "below"), factors


def explain(factors: list[dict[str, Any]], threshold: float, outcome: str) -> str:
    """A plain-language explanation of a decision from its factors."""
    parts = []
    for f in factors:
        rule = f"{f['op']} {f['operand']}" if f["op"] else "value"
        parts.append(f"{f['field']} ({rule}, weight {f['weight']:g}): {f['contribution']:+g}")
    total = sum(f["contribution"] for f in factors)
    return f"score {total:g} against threshold {threshold:g} -> {outcome}; " + "; ".join(parts)
