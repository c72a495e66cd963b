"""Scorers registered by name, built from a :class:`~evals.types.ScorerSpec`, and checked early.

A scorer factory is a class or function taking keyword arguments and returning a
:class:`~evals.types.Scorer`; ``@register_scorer("name")`` files it under a name. Built-ins
register exactly like plugins would. :func:`build_scorer` turns a spec (a name, a
``{"name", "args"}`` mapping or a :class:`ScorerSpec`) into a scorer:

- arguments are checked against the factory's signature: unknown or missing ones, and values
  that do not fit the annotated type (validated and coerced by pydantic, so JSON lists become
  tuples), raise :class:`ScorerError` naming the scorer and the argument;
- arguments must be JSON data, so a stored spec rebuilds the same scorer anywhere;
- two argument names are reserved: ``label`` (any scorer: the name its scores are recorded
  under, to tell apart two ``regex`` checks of one case) and ``context`` (never in a spec: a
  factory that declares a ``context`` parameter receives the :class:`ScorerContext` with the
  injected chat-model and embeddings factories).

:func:`validate_specs` builds every spec of a dataset up front and reports all problems at once,
so nothing runs on a dataset that names an unknown scorer or passes bad arguments.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from evals.scorers.base import (
    BaseScorer,
    ChatModelFactory,
    EmbeddingsFactory,
    GuardedScorer,
    ScorerContext,
    ScorerError,
)
from evals.types import Scorer, ScorerSpec

ScorerFactory = Callable[..., Scorer]
"""A class or function taking keyword arguments and returning a scorer."""

SpecLike = ScorerSpec | str | Mapping[str, Any]
"""What :func:`build_scorer` accepts: a spec, a bare name, or a ``{name, args}`` mapping."""

F = TypeVar("F", bound=ScorerFactory)

LABEL_ARG = "label"
CONTEXT_ARG = "context"

_FACTORIES: dict[str, ScorerFactory] = {}
_ADAPTERS: dict[tuple[ScorerFactory, str], TypeAdapter[Any]] = {}


def register_scorer(name: str) -> Callable[[F], F]:
    """File a scorer factory under ``name`` (a decorator).

    Raises :class:`ScorerError` when ``name`` is taken by another factory or the factory
    declares the reserved ``label`` argument.
    """
    if not name or not name.strip():
        raise ScorerError("a scorer name must not be empty")

    def decorator(factory: F) -> F:
        existing = _FACTORIES.get(name)
        if existing is not None and existing is not factory:
            raise ScorerError(f"scorer '{name}' is already registered ({_qualname(existing)})")
        if LABEL_ARG in inspect.signature(factory).parameters:
            raise ScorerError(f"scorer '{name}': argument '{LABEL_ARG}' is reserved")
        _FACTORIES[name] = factory
        return factory

    return decorator


def scorer_names() -> list[str]:
    """Every registered scorer name, sorted."""
    return sorted(_FACTORIES)


def describe_scorers() -> dict[str, str]:
    """Registered name -> the first line of its factory's docstring (for listings)."""
    described = {}
    for name in scorer_names():
        doc = inspect.getdoc(_FACTORIES[name]) or ""
        described[name] = doc.strip().splitlines()[0] if doc.strip() else ""
    return described


def to_spec(spec: SpecLike) -> ScorerSpec:
    """Normalise a name or ``{name, args}`` mapping to a :class:`ScorerSpec`."""
    if isinstance(spec, ScorerSpec):
        return spec
    if isinstance(spec, str):
        data: dict[str, Any] = {"name": spec}
    elif isinstance(spec, Mapping):
        data = dict(spec)
    else:
        raise ScorerError(
            "a scorer spec is a name, a {name, args} mapping or a ScorerSpec, "
            f"not {type(spec).__name__}"
        )
    try:
        return ScorerSpec.model_validate(data)
    except ValidationError as exc:
        raise ScorerError(f"invalid scorer spec {data!r}: {_first_error(exc)}") from None


def build_scorer(
    spec: SpecLike,
    *,
    chat_model: ChatModelFactory | None = None,
    embeddings: EmbeddingsFactory | None = None,
    judge_model: str | None = None,
    embeddings_model: str | None = None,
    context: ScorerContext | None = None,
) -> Scorer:
    """Build the scorer ``spec`` names, with its arguments.

    ``chat_model`` (model ref -> chat model, e.g. ``Assistant.chat_model``), ``embeddings``
    (model ref -> embeddings model, e.g. ``Assistant.embeddings``), ``judge_model`` and
    ``embeddings_model`` (the default refs) are injected into the scorers that need them;
    ``context`` bundles the four (the keyword arguments override its fields). Nothing is
    loaded at build time: models are asked for when a case is scored.

    Raises :class:`ScorerError` for an unknown name (naming the known ones) or bad arguments.
    """
    normalised = to_spec(spec)
    ctx = context or ScorerContext()
    overrides: dict[str, Any] = {}
    if chat_model is not None:
        overrides["chat_model"] = chat_model
    if embeddings is not None:
        overrides["embeddings"] = embeddings
    if judge_model is not None:
        overrides["judge_model"] = judge_model
    if embeddings_model is not None:
        overrides["embeddings_model"] = embeddings_model
    if overrides:
        ctx = dataclasses.replace(ctx, **overrides)
    return _build(normalised, ctx)


def validate_specs(specs: Iterable[SpecLike]) -> list[ScorerSpec]:
    """Check every spec builds (name known, arguments valid); return them normalised.

    Raises one :class:`ScorerError` listing every problem (its ``problems`` attribute holds
    them one by one). Building loads no model, so this is cheap enough to run on a whole
    dataset before any target is called.
    """
    normalised: list[ScorerSpec] = []
    problems: list[str] = []
    for spec in specs:
        try:
            built = to_spec(spec)
            _build(built, ScorerContext())
        except ScorerError as exc:
            problems.extend(exc.problems)
            continue
        normalised.append(built)
    if problems:
        unique = list(dict.fromkeys(problems))
        raise ScorerError("; ".join(unique), unique)
    return normalised


def _build(spec: ScorerSpec, context: ScorerContext) -> Scorer:
    factory = _FACTORIES.get(spec.name)
    if factory is None:
        known = ", ".join(scorer_names()) or "none"
        raise ScorerError(f"unknown scorer '{spec.name}' (known: {known})")
    try:
        json.dumps(spec.args, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ScorerError(
            f"scorer '{spec.name}': arguments must be JSON data so the spec can be stored "
            f"and rebuilt ({exc})"
        ) from None
    args = dict(spec.args)
    label = args.pop(LABEL_ARG, None)
    problems: list[str] = []
    if label is not None and (not isinstance(label, str) or not label.strip()):
        problems.append(f"scorer '{spec.name}': argument '{LABEL_ARG}' must be a non-empty string")
    values, arg_problems = _check_args(spec.name, factory, args, context)
    problems.extend(arg_problems)
    if problems:
        raise ScorerError("; ".join(problems), problems)
    try:
        scorer = factory(**values)
    except (TypeError, ValueError) as exc:
        raise ScorerError(f"scorer '{spec.name}': {exc}") from None
    if not isinstance(scorer, BaseScorer):
        scorer = GuardedScorer(scorer)
    scorer.name = label if isinstance(label, str) else spec.name
    scorer.spec = spec
    return scorer


def _check_args(
    name: str, factory: ScorerFactory, args: dict[str, Any], context: ScorerContext
) -> tuple[dict[str, Any], list[str]]:
    """The factory's keyword arguments, validated against its signature and annotations."""
    params = inspect.signature(factory).parameters
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    accepted = [
        p.name
        for p in params.values()
        if p.name != CONTEXT_ARG
        and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    problems: list[str] = []
    values: dict[str, Any] = {}
    for key, value in args.items():
        if key == CONTEXT_ARG:
            problems.append(
                f"scorer '{name}': argument '{CONTEXT_ARG}' is reserved (injected by the harness)"
            )
        elif key not in accepted and not open_ended:
            problems.append(
                f"scorer '{name}': unknown argument '{key}' "
                f"(accepted: {', '.join([*accepted, LABEL_ARG])})"
            )
        elif key in accepted:
            adapter = _adapter(factory, key)
            try:
                values[key] = value if adapter is None else adapter.validate_python(value)
            except ValidationError as exc:
                problems.append(f"scorer '{name}': argument '{key}': {_first_error(exc)}")
        else:
            values[key] = value
    for key in accepted:
        if params[key].default is inspect.Parameter.empty and key not in args:
            problems.append(f"scorer '{name}': missing required argument '{key}'")
    if CONTEXT_ARG in params:
        values[CONTEXT_ARG] = context
    return values, problems


def _adapter(factory: ScorerFactory, param: str) -> TypeAdapter[Any] | None:
    """A cached validator for one parameter's annotation.

    ``None`` when the parameter is unannotated or its annotation cannot be resolved (e.g. a
    name local to a test function): the factory then checks the value itself.
    """
    key = (factory, param)
    if key not in _ADAPTERS:
        annotation = inspect.signature(factory).parameters[param].annotation
        if annotation is inspect.Parameter.empty:
            return None
        if isinstance(annotation, str):
            # Resolve only this parameter's annotation, in the module that wrote it
            # (`from __future__ import annotations` leaves them as strings).
            function = _init_of(factory) if isinstance(factory, type) else factory
            holder = types.SimpleNamespace(
                __annotations__={param: annotation},
                __globals__=getattr(function, "__globals__", {}),
            )
            try:
                annotation = typing.get_type_hints(holder)[param]
            except Exception:  # an unresolvable annotation: leave the value to the factory
                return None
        _ADAPTERS[key] = TypeAdapter(annotation)
    return _ADAPTERS[key]


def _init_of(cls: type) -> object:
    """The ``__init__`` a class's instances get (its annotations name the arguments)."""
    return next((vars(base)["__init__"] for base in cls.__mro__ if "__init__" in vars(base)), None)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{error['msg']} (at {where})" if where else str(error["msg"])


def _qualname(factory: ScorerFactory) -> str:
    return f"{getattr(factory, '__module__', '?')}.{getattr(factory, '__qualname__', factory)}"
