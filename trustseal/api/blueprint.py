"""The API blueprint: flask-smorest's, with argument schemas built once per route and
credentials checked before anything else of an operation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import flask_smorest
from flask.views import MethodView

F = TypeVar("F", bound=Callable[..., Any])
Guard = Callable[[Callable[..., Any]], Callable[..., Any]]

_GUARDED = "_trustseal_guarded"


class MisplacedGuard(TypeError):
    """A view's :meth:`Blueprint.requires` is not its outermost decorator."""


class Blueprint(flask_smorest.Blueprint):
    """A flask-smorest blueprint whose ``arguments`` schemas are instantiated once, and
    whose authenticated operations check credentials before parsing their arguments.

    webargs instantiates a schema *class* on every request (and with it every nested
    schema); an instance is reused. Schemas keep no per-request state, so one instance
    per route is safe under threads.
    """

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        """As :meth:`flask_smorest.Blueprint.arguments`, with ``schema`` made an instance."""
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)

    def requires(self, guard: Guard, security: list[dict[str, list[str]]]) -> Callable[[F], F]:
        """Let only callers that ``guard`` admits run the operation, documented with
        ``security`` (``MERCHANT_SECURITY``, ``STAFF_SECURITY``).

        It must be the view's outermost decorator: then a caller without valid
        credentials gets 401 (403 for a wrong role) before its arguments are even parsed,
        never a 422 that would tell an anonymous caller how the API validates. The
        blueprint refuses to register a view where another decorator wraps it.
        """

        def decorate(view: F) -> F:
            guarded = guard(self.doc(security=security)(view))
            setattr(guarded, _GUARDED, guarded)
            return guarded  # type: ignore[return-value]

        return decorate

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        """As flask-smorest's, after checking that each guard is its view's outermost
        decorator (:meth:`requires`)."""
        if isinstance(view_func, type) and issubclass(view_func, MethodView):
            for method in view_func.methods or ():
                _check_guard_outermost(getattr(view_func, method.lower()))
        elif view_func is not None:
            _check_guard_outermost(view_func)
        super().add_url_rule(rule, endpoint, view_func, *args, **kwargs)


def _check_guard_outermost(view: Callable[..., Any]) -> None:
    """Raise :class:`MisplacedGuard` when a decorator wraps the guard of ``view``.

    ``functools.wraps`` copies the marker to every decorator above the guard, so the
    marker names the guard itself only when nothing wraps it.
    """
    guarded = getattr(view, _GUARDED, None)
    if guarded is not None and guarded is not view:
        raise MisplacedGuard(
            f"{view.__qualname__}: put @blp.requires(...) above every other decorator, "
            "so credentials are checked before the arguments are parsed."
        )
