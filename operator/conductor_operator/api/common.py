"""Pieces shared by every kind: the base model, durations, references, conditions, object metadata.

This layer imports no kopf, httpx or kubernetes: it is the CRDs as data, used by the operator to
read bodies and build status, and by `crdgen` to write the CRDs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

GROUP = "conductor-operator.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "conductor"

DEFAULT_CLUSTER = "default"
"""The ConductorCluster a resource without spec.clusterRef uses, in its own namespace."""

# ---- durations -----------------------------------------------------------------------------------

DURATION_PATTERN = r"^([0-9]+(ms|s|m|h))+$"
_DURATION = re.compile(DURATION_PATTERN)
_PART = re.compile(r"([0-9]+)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> timedelta:
    """A duration such as "30s", "5m", "24h", "1h30m" or "250ms" as a timedelta.

    Raises ValueError naming the text and the expected form for anything else (days, spaces,
    signs, fractions, a bare number, a non-string).
    """
    if not isinstance(text, str) or not _DURATION.match(text):
        raise ValueError(f"{text!r} is not a duration such as 30s, 5m, 24h or 1h30m (units: ms, s, m, h)")
    return timedelta(seconds=sum(int(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(text)))


def _check_duration(value: Any) -> Any:
    if isinstance(value, str):
        parse_duration(value)  # a readable ValueError before the pattern check
    return value


Duration = Annotated[str, StringConstraints(pattern=DURATION_PATTERN), BeforeValidator(_check_duration)]
"""A duration string ("30s", "5m", "24h"); the CRD schema carries the pattern, so the API server checks it."""

# ---- names Conductor puts in URL paths ------------------------------------------------------------

NAME_UNSAFE = re.compile(r"[/\\?#\x00-\x1f\x7f-\x9f]")
"""Characters a Conductor name may not hold: Conductor's server cannot take a slash, a backslash or NUL in a URL
path even percent-encoded (its servlet container answers 400), a ? or # breaks every hand-written URL, and control
characters are invisible. The operator's client refuses to build a path of such a name (or of "." or "..")."""
NAME_RULES = [
    {"rule": f"!self.matches(r'{NAME_UNSAFE.pattern}')",
     "message": "must not hold /, \\, ?, # or control characters: Conductor takes names in URL paths"},
    {"rule": "self != '.' && self != '..'",
     "message": "must not be . or ..: in a URL path they mean the current and the parent endpoint"},
]
"""The same rules as CEL, for the API server (NAME_UNSAFE's pattern as a CEL raw string)."""


def _check_name(value: str) -> str:
    if found := NAME_UNSAFE.search(value):
        raise ValueError(f"must not hold {found[0]!r} (/, \\, ?, # or control characters): Conductor takes names in "
                         f"URL paths")
    if value in (".", ".."):
        raise ValueError("must not be . or ..: in a URL path they mean the current and the parent endpoint")
    return value


ConductorName = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(_check_name),
                          Field(json_schema_extra={"x-kubernetes-validations": NAME_RULES})]
"""A name Conductor puts in URL paths (a workflow's, a task definition's): 1 to 255 characters, no /, \\, ?, # or
control character, not . or ..; checked by the API server (CEL) and again by the models."""

_NAME_CHAR = NAME_UNSAFE.pattern.replace("[", "[^", 1)
NAME_PATTERN = rf"^({_NAME_CHAR}*{_NAME_CHAR[:-1]}.]{_NAME_CHAR}*|\.\.\.+)$"
"""The same rules as one regular expression (some character that is not a dot, or three dots and more)."""

ListedConductorName = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(_check_name),
                                Field(json_schema_extra={"pattern": NAME_PATTERN})]
"""A ConductorName inside a list: the API server checks the rules as a pattern, which costs nothing of the CEL
budget that a rule per list item would exhaust."""

OpenObject = Annotated[dict[str, Any], Field(json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})]
"""Any JSON object, kept as written (task bodies, input templates, schemas, outputs)."""


# ---- the base model ------------------------------------------------------------------------------

def _camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _plain(value: Any) -> Any:
    """Mappings and sequences (kopf's body views, for one) as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


class Model(BaseModel):
    """camelCase in YAML, snake_case in Python; lenient: unknown fields are ignored.

    Lenient parsing lets an older operator read bodies written for a newer CRD.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True, alias_generator=_camel)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form with camelCase keys and without unset optional fields (for status patches)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def Defaulted(model: type[Model], description: str) -> Any:  # noqa: N802 (reads like a type)
    """An object field that is always present: the API server writes `{}` and then the nested defaults."""
    return Field(default_factory=model, description=description, json_schema_extra={"default": {}})


def exactly_one(*fields: str, where: str = "") -> dict[str, str]:
    """A CEL rule (x-kubernetes-validations) asking for exactly one of these optional fields."""
    count = " + ".join(f"(has(self.{field}) ? 1 : 0)" for field in fields)
    return {"rule": f"{count} == 1", "message": exactly_one_message(fields, where)}


def exactly_one_message(fields: tuple[str, ...] | list[str], where: str = "") -> str:
    named = ", ".join(f"{where}.{field}" if where else field for field in fields)
    return f"set exactly one of {named}"


def check_exactly_one(model: BaseModel, fields: dict[str, str], where: str = "") -> None:
    """The same rule in Python: `fields` maps attribute names to their YAML names."""
    present = [alias for attribute, alias in fields.items() if getattr(model, attribute) is not None]
    if len(present) != 1:
        found = "none is set" if not present else f"{' and '.join(present)} are set"
        raise ValueError(f"{exactly_one_message(list(fields.values()), where)}; {found}")


def immutable(field: str, message: str) -> dict[str, str]:
    """A CEL transition rule: the field keeps its first value."""
    return {"rule": f"self.{field} == oldSelf.{field}", "message": message}


# ---- references ----------------------------------------------------------------------------------

class ClusterRef(Model):
    name: str = Field(min_length=1, description="Name of a ConductorCluster in the same namespace.")


class ConfigMapKeyRef(Model):
    name: str = Field(min_length=1, description="Name of a ConfigMap in the same namespace.")
    key: str = Field(min_length=1, description="Key of the ConfigMap whose value is the JSON document.")


class DefinitionSource(Model):
    config_map_key_ref: ConfigMapKeyRef = Field(
        description="A ConfigMap key holding the definition as a JSON file (as Conductor's UI or API exports it).")


# ---- conditions and status -----------------------------------------------------------------------

class Condition(Model):
    """One condition in the shape of metav1.Condition."""

    type: str = Field(min_length=1, description="Ready, Reconciling, Stalled, or a kind's own condition type.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field("", description="A CamelCase reason, for programs.")
    message: str = Field("", description="What happened, for people.")
    last_transition_time: str | None = Field(None, description="When the status last changed (RFC 3339).")
    observed_generation: int | None = Field(None, description="The metadata.generation the condition describes.")


Conditions = Annotated[list[Condition], Field(
    default_factory=list,
    description="kstatus conditions (Ready, Reconciling, Stalled) and the kind's own; one per type.",
    json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]})]


class StatusBase(Model):
    observed_generation: int | None = Field(None, description="The metadata.generation this status describes.")
    conditions: Conditions

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)


# ---- the resource envelope -----------------------------------------------------------------------

class ObjectMeta(Model):
    """The parts of metadata the operator reads."""

    name: str = ""
    namespace: str | None = None
    uid: str | None = None
    generation: int | None = None
    resource_version: str | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    finalizers: list[str] = Field(default_factory=list)


class Resource(Model):
    """A whole Kubernetes object (apiVersion, kind, metadata, spec, status) of one of the operator's kinds.

    Subclasses declare `spec` and `status` and the CRD facts used by `crdgen`. A missing or null
    status reads as an empty one, so `resource.status.conditions` always works.
    """

    KIND: ClassVar[str]
    PLURAL: ClassVar[str]
    SHORT_NAMES: ClassVar[tuple[str, ...]]

    api_version: str = API_VERSION
    kind: str = ""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)

    @model_validator(mode="before")
    @classmethod
    def _plain_body(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            data = _plain(data)
            if data.get("status") is None:
                data.pop("status", None)
            if getattr(cls, "KIND", None):
                data.setdefault("kind", cls.KIND)
        return data

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        """Parse a raw body (a dict, or any mapping such as kopf's Body); raises pydantic.ValidationError."""
        return cls.model_validate(body)
