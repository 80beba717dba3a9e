"""The method registry: a pluggy plugin manager plus the (kind, name) → method table.

Built-in plugins (``spectralcore.plugins``) are registered first, then every installed
package that declares the entry-point group ``spectralcore``, then whatever
``sc.register`` adds. The manager is created on first use, so importing spectralcore
imports no plugin and no framework.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

import pluggy

from . import hooks
from .method import EighBackward, EighForward, Method, SqrtmBackward, SqrtmForward
from .validation import SpectralError

KIND_BASES: dict[str, type[Method]] = {
    "eigh-forward": EighForward,
    "eigh-backward": EighBackward,
    "sqrtm-forward": SqrtmForward,
    "sqrtm-backward": SqrtmBackward,
}


@dataclasses.dataclass(frozen=True)
class MethodInfo:
    """One registered method, as ``sc.methods()`` lists it."""

    kind: str
    name: str
    cls: type[Method]
    source: str

    @property
    def options(self) -> dict[str, Any]:
        return self.cls.option_defaults()

    @property
    def claims(self) -> frozenset[str]:
        return self.cls.claims

    @property
    def reference(self) -> str:
        return self.cls.reference

    @property
    def forward_mode(self) -> bool:
        """Whether it works in forward mode (``Method.has_jvp`` of its default configuration)."""
        return self.cls().has_jvp()

    @property
    def accuracy(self) -> float | None:
        """The relative error it claims (``Method.claimed_accuracy``); None: opted out."""
        return self.cls.claimed_accuracy()

    @property
    def accuracy_opt_out(self) -> str:
        return self.cls.accuracy_opt_out

    def __str__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items()) or "-"
        return f"{self.kind:15} {self.name:17} {opts}  [{self.source}]"


class Registry:
    """Holds the plugin manager and the method table built from its hooks."""

    def __init__(self) -> None:
        self._pm: pluggy.PluginManager | None = None
        self._table: dict[tuple[str, str], MethodInfo] = {}
        self._unclaimed: set[str] = set()  # plugins whose methods may declare no accuracy (to be measured)

    @property
    def manager(self) -> pluggy.PluginManager:
        if self._pm is None:
            pm = pluggy.PluginManager(hooks.PROJECT)
            pm.add_hookspecs(hooks)
            builtin = importlib.import_module("spectralcore.plugins")
            for module in builtin.BUILTIN:
                pm.register(importlib.import_module(module), name=module)
            pm.load_setuptools_entrypoints(hooks.PROJECT)
            self._table = self._collect(pm, self._unclaimed)
            self._pm = pm
        return self._pm

    def register(self, plugin: Any, name: str | None = None, *, unclaimed: bool = False) -> str:
        """Register a plugin object; a (kind, name) clash is an error naming both sources, and so is
        a method that states no accuracy claim (:meth:`Method.claimed_accuracy`) unless ``unclaimed``
        (the conformance command measures such a method and suggests the value to declare)."""
        pm = self.manager
        try:
            registered = pm.register(plugin, name)
        except ValueError as error:  # pluggy's message lists every registered plugin
            held = pm.get_name(plugin)
            raise SpectralError(
                f"plugin {name or plugin!r} is already registered"
                + (f" (as {held!r})" if held else "")
                + ("" if held else f": the name {name!r} is taken")
            ) from error
        if registered is None:
            raise SpectralError(f"plugin {name or plugin!r} is already registered or blocked")
        if unclaimed:
            self._unclaimed.add(registered)
        try:
            self._table = self._collect(pm, self._unclaimed)
        except Exception:
            pm.unregister(plugin)
            self._unclaimed.discard(registered)
            raise
        return registered

    def unregister(self, plugin: Any) -> None:
        """Remove a plugin registered with :meth:`register`."""
        self._unclaimed.discard(self.manager.get_name(plugin) or "")
        self.manager.unregister(plugin)
        self._table = self._collect(self.manager, self._unclaimed)

    @staticmethod
    def _collect(pm: pluggy.PluginManager, unclaimed: set[str]) -> dict[tuple[str, str], MethodInfo]:
        table: dict[tuple[str, str], MethodInfo] = {}
        for kind, hookname in hooks.KIND_HOOKS.items():
            for impl in getattr(pm.hook, hookname).get_hookimpls():
                for cls in impl.function() or ():
                    base = KIND_BASES[kind]
                    if not (isinstance(cls, type) and issubclass(cls, base) and cls.name):
                        raise SpectralError(
                            f"plugin '{impl.plugin_name}' returned {cls!r} from {hookname}: "
                            f"expected a subclass of {base.__name__} with a non-empty `name`"
                        )
                    key = (kind, cls.name)
                    if key in table and table[key].cls is not cls:
                        raise SpectralError(
                            f"{kind} method '{cls.name}' is defined twice: by "
                            f"'{table[key].source}' ({table[key].cls.__qualname__}) and by "
                            f"'{impl.plugin_name}' ({cls.__qualname__})"
                        )
                    cls.option_defaults(), cls.option_types()  # validate and cache now, not inside a traced call
                    if impl.plugin_name not in unclaimed:
                        cls.claimed_accuracy()  # raises if it states no claim
                    table[key] = MethodInfo(kind, cls.name, cls, impl.plugin_name)
        return table

    def table(self) -> dict[tuple[str, str], MethodInfo]:
        self.manager  # noqa: B018 - builds the table on first use
        return self._table

    def names(self, kind: str) -> list[str]:
        return sorted(name for k, name in self.table() if k == kind)

    def lookup(self, kind: str, name: str) -> MethodInfo:
        """The method registered as (kind, name); an unknown name lists the available ones."""
        info = self.table().get((kind, name))
        if info is None:
            raise SpectralError(f"unknown {kind} method {name!r}; available: {', '.join(self.names(kind))}")
        return info

    def adapter(self, array: Any) -> Any:
        """The adapter of the first plugin that claims ``array``'s type."""
        return self.manager.hook.spectralcore_array_adapter(array=array)


REGISTRY = Registry()


class MethodCatalog:
    """``sc.methods()`` lists every method; ``sc.methods.Taylor`` is a registered class."""

    def __call__(self, kind: str | None = None) -> list[MethodInfo]:
        infos = REGISTRY.table().values()
        return sorted((i for i in infos if kind is None or i.kind == kind), key=lambda i: (i.kind, i.name))

    def __getattr__(self, attr: str) -> type[Method]:
        if attr.startswith("_"):
            raise AttributeError(attr)
        classes = {info.cls.__name__: info.cls for info in REGISTRY.table().values()}
        if attr not in classes:
            raise AttributeError(f"no registered method class {attr!r}; available: {', '.join(sorted(classes))}")
        return classes[attr]

    def __dir__(self) -> list[str]:
        return sorted(info.cls.__name__ for info in REGISTRY.table().values())


def register(plugin: Any, name: str | None = None) -> str:
    """Register a plugin object (module, class or instance with ``@hookimpl`` functions)."""
    return REGISTRY.register(plugin, name)


def load_plugin(spec: str, *, unclaimed: bool = False) -> str:
    """Register a plugin that is not installed: ``package.module`` (its ``@hookimpl`` functions)
    or ``package.module:object``; returns the name it is registered under. ``unclaimed``: see
    :meth:`Registry.register`."""
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise SpectralError(f"plugin {spec!r}: cannot import {module_name!r} ({error})") from None
    plugin = module
    for part in filter(None, attribute.split(".")):
        if not hasattr(plugin, part):
            raise SpectralError(f"plugin {spec!r}: {module_name!r} has no attribute {attribute!r}")
        plugin = getattr(plugin, part)
    return REGISTRY.register(plugin, name=spec, unclaimed=unclaimed)
