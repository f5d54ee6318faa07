"""Pieces shared by every kind: durations, references, conditions, the base model."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

GROUP = "conductor-operator.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

DURATION_PATTERN = r"^([0-9]+(ms|s|m|h))+$"
_PART = re.compile(r"([0-9]+)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> timedelta:
    """"30s", "5m", "1h30m", "250ms" as a timedelta; ValueError names what is wrong."""
    if not isinstance(text, str) or not re.match(DURATION_PATTERN, text):
        raise ValueError(f"{text!r} is not a duration such as 30s, 5m or 1h30m")
    return timedelta(seconds=sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(text)))


def Duration(default: str | None = None, description: str = ""):  # noqa: N802 (reads like a type)
    return Field(default=default, description=description, json_schema_extra={"pattern": DURATION_PATTERN})


OpenObject = Annotated[dict[str, Any], Field(json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})]
"""Any JSON object, kept as it is (task bodies, input templates, outputs)."""


class Model(BaseModel):
    """Lenient parsing: an older operator accepts bodies with newer fields; camelCase in YAML."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, alias_generator=lambda name: _camel(name))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class ClusterRef(Model):
    name: str = Field(description="Name of a ConductorCluster in the same namespace.")


class ConfigMapKeyRef(Model):
    name: str = Field(description="ConfigMap in the same namespace.")
    key: str = Field(description="Key whose value is the JSON document.")


class DefinitionSource(Model):
    config_map_key_ref: ConfigMapKeyRef = Field(
        description="A ConfigMap key holding the JSON file of the definition, as Conductor's UI exports it.")


class Condition(Model):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str = ""
    message: str = ""
    last_transition_time: str | None = None
    observed_generation: int | None = None


Conditions = Annotated[list[Condition], Field(
    default_factory=list, description="kstatus conditions (Ready, Reconciling, Stalled) and domain ones.",
    json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]})]


class StatusBase(Model):
    observed_generation: int | None = Field(None, description="The generation the status describes.")
    conditions: Conditions


def exactly_one(*fields: str) -> dict:
    """A CEL rule: exactly one of these optional fields is set."""
    expression = " + ".join(f"(has(self.{f}) ? 1 : 0)" for f in fields) + " == 1"
    return {"rule": expression, "message": f"set exactly one of {', '.join(fields)}"}


def immutable(field: str, message: str) -> dict:
    return {"rule": f"self.{field} == oldSelf.{field}", "message": message}


def Defaulted(model: type, description: str = ""):  # noqa: N802 (reads like a type)
    """An object field that is always there, so the API server fills in its own defaults too."""
    return Field(default_factory=model, description=description, json_schema_extra={"default": {}})
