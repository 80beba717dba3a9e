"""The pluggy registry: listing, lookup by name or instance, option routing, third-party plugins."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

import spectralcore as sc
from reference import rel_err, with_spectrum

BUILTIN = {
    "eigh-forward": {"eigh", "power-iteration"},
    "eigh-backward": {"exact", "degenerate-safe", "clip", "topn", "power-iteration", "taylor", "pade", "lorentzian"},
    "sqrtm-forward": {"eigh", "mtp", "mpa", "newton-schulz"},
    "sqrtm-backward": {"lyapunov", "exact", "newton-schulz"},
}


def test_every_builtin_is_registered_through_plugins():
    listed = sc.methods()
    for kind, names in BUILTIN.items():
        assert {i.name for i in listed if i.kind == kind} >= names
    for info in listed:
        if info.name in BUILTIN.get(info.kind, ()):
            assert info.source.startswith("spectralcore.plugins.")
        assert info.reference
        assert "traceable" in info.claims


def test_listing_shows_options_and_defaults():
    taylor = next(i for i in sc.methods("eigh-backward") if i.name == "taylor")
    assert taylor.options == {"degree": 9, "eps": 1e-2, "relative": True}
    assert "degree=9" in str(taylor)


def test_instance_equals_name_with_options(rng):
    a = with_spectrum(rng, [1.0, 1.1, 3.0])
    g = rng.standard_normal((3, 3))
    by_name = sc.vjp(sc.eigh, a, backward="taylor", degree=4)[1]((None, g))
    by_instance = sc.vjp(sc.eigh, a, backward=sc.methods.Taylor(degree=4))[1]((None, g))
    np.testing.assert_array_equal(by_name, by_instance)


def test_shared_option_reaches_every_named_method(rng):
    """normalize= goes to both the MPA forward and the Lyapunov backward."""
    from spectralcore.ops.sqrtm import sqrtm

    config = sqrtm.configure(np.eye(3), forward="mpa", backward="lyapunov", normalize="frobenius")
    assert config.forward.normalize == config.backward.normalize == "frobenius"


@dataclasses.dataclass(frozen=True)
class HalfExact(sc.KernelBackward):
    """A deliberately simple third-party method: half the exact kernel."""

    name = "half-exact"
    accuracy_opt_out = "half the exact kernel, on purpose"
    scale: float = 0.5

    def kernel(self, xp, w):
        d = w[..., None, :] - w[..., :, None]
        eye = xp.eye(w.shape[-1], dtype=w.dtype)
        return self.scale * (1 - eye) / (d + eye)


class ThirdParty:
    @sc.hookimpl
    def spectralcore_eigh_backward(self):
        return [HalfExact]


def test_register_third_party_plugin(rng):
    plugin = ThirdParty()
    sc.register(plugin, name="third-party")
    try:
        info = next(i for i in sc.methods() if i.name == "half-exact")
        assert info.source == "third-party" and info.options == {"scale": 0.5}
        a = with_spectrum(rng, [1.0, 2.0, 4.0])
        gV = rng.standard_normal((3, 3))
        half = sc.vjp(sc.eigh, a, backward="half-exact")[1]((None, gV))
        exact = sc.vjp(sc.eigh, a)[1]((None, gV))
        assert rel_err(2 * half, exact) < 1e-13
    finally:
        sc.registry.REGISTRY.unregister(plugin)
    assert "half-exact" not in {i.name for i in sc.methods()}


def test_name_clash_names_both_sources():
    @dataclasses.dataclass(frozen=True)
    class FakeTaylor(HalfExact):
        name = "taylor"

    class Clashing:
        @sc.hookimpl
        def spectralcore_eigh_backward(self):
            return [FakeTaylor]

    with pytest.raises(sc.SpectralError, match="'taylor' is defined twice: by 'spectralcore.plugins.taylor'.*'clash'"):
        sc.register(Clashing(), name="clash")
    assert sc.methods.Taylor.__module__ == "spectralcore.plugins.taylor"


def test_hook_must_return_method_classes():
    class Broken:
        @sc.hookimpl
        def spectralcore_sqrtm_forward(self):
            return [object]

    with pytest.raises(sc.SpectralError, match="expected a subclass of SqrtmForward"):
        sc.register(Broken(), name="broken")


def test_cli_lists_methods(capsys):
    from spectralcore.cli import main

    assert main(["methods"]) == 0
    assert "lyapunov" in capsys.readouterr().out


def test_registering_twice_is_a_one_line_error():
    plugin = ThirdParty()
    sc.register(plugin, name="third-party")
    try:
        with pytest.raises(sc.SpectralError, match=r"plugin 'again' is already registered \(as 'third-party'\)"):
            sc.register(plugin, name="again")
        with pytest.raises(sc.SpectralError, match="the name 'third-party' is taken"):
            sc.register(ThirdParty(), name="third-party")
    finally:
        sc.registry.REGISTRY.unregister(plugin)


def test_option_validation_helper_is_public():
    @dataclasses.dataclass(frozen=True)
    class Checked(HalfExact):
        name = "checked"

        def validate(self):
            self.require(0 < self.scale <= 1, "scale", "in (0, 1]")

    with pytest.raises(ValueError, match=r"eigh-backward method 'checked': option `scale` must be in \(0, 1\], got 2"):
        Checked(scale=2)


def _plugin_of(cls: type) -> object:
    class Plugin:
        @sc.hookimpl
        def spectralcore_eigh_backward(self):
            return [cls]

    return Plugin()


@dataclasses.dataclass(frozen=True)
class Unclaimed(sc.KernelBackward):
    """Declares neither `accuracy` nor `accuracy_opt_out`."""

    name = "unclaimed"

    def kernel(self, xp, w):
        return HalfExact(scale=1.0).kernel(xp, w)


def test_registering_a_method_without_a_claim_is_an_error():
    with pytest.raises(sc.SpectralError) as raised:
        sc.register(_plugin_of(Unclaimed), name="unclaimed-plugin")
    message = str(raised.value)
    assert "eigh-backward method 'unclaimed'" in message and "neither `accuracy` nor `accuracy_opt_out`" in message
    assert f"spectralcore conformance --plugin {__name__} --method unclaimed" in message
    assert '"exact" too (they declare 1e-8)' in message
    assert "unclaimed" not in {i.name for i in sc.methods()}  # the failed registration left nothing behind


@pytest.mark.parametrize(
    "claim,accuracy", [({"accuracy": 1e-8}, 1e-8), ({"accuracy_opt_out": "a test of the opt-out"}, None)]
)
def test_either_claim_registers(claim, accuracy):
    cls = dataclasses.dataclass(frozen=True)(type("Claimed", (Unclaimed,), {"name": "claimed", **claim}))
    plugin = _plugin_of(cls)
    sc.register(plugin, name="claimed-plugin")
    try:
        assert sc.registry.REGISTRY.lookup("eigh-backward", "claimed").accuracy == accuracy
    finally:
        sc.registry.REGISTRY.unregister(plugin)


@pytest.mark.parametrize(
    "claim,message",
    [
        ({"accuracy": 0.0}, "`accuracy` must be a real number > 0, got 0.0"),
        ({"accuracy": "1e-3"}, "`accuracy` must be a real number > 0, got '1e-3'"),
        ({"accuracy": 1e-3, "accuracy_opt_out": "both at once"}, "declares both `accuracy` and `accuracy_opt_out`"),
    ],
)
def test_an_invalid_claim_is_an_error(claim, message):
    cls = dataclasses.dataclass(frozen=True)(type("Invalid", (Unclaimed,), {"name": "invalid", **claim}))
    with pytest.raises(sc.SpectralError, match=f"method 'invalid'.*{re.escape(message)}"):
        sc.register(_plugin_of(cls), name="invalid-plugin")


def test_an_opt_out_wins_over_an_inherited_accuracy():
    parent = dataclasses.dataclass(frozen=True)(type("Parent", (Unclaimed,), {"name": "parent", "accuracy": 1e-3}))
    child = dataclasses.dataclass(frozen=True)(type("Child", (parent,), {"name": "child", "accuracy_opt_out": "why"}))
    assert parent.claimed_accuracy() == 1e-3 and child.claimed_accuracy() is None


def test_the_conformance_command_may_register_a_method_to_measure():
    """`spectralcore conformance --plugin` loads a method without a claim (it measures one); its
    claim is still reported missing where it is read."""
    plugin = _plugin_of(Unclaimed)
    sc.registry.REGISTRY.register(plugin, name="to-measure", unclaimed=True)
    try:
        info = sc.registry.REGISTRY.lookup("eigh-backward", "unclaimed")
        with pytest.raises(sc.method.UnclaimedAccuracy, match="neither `accuracy`"):
            info.accuracy  # noqa: B018
    finally:
        sc.registry.REGISTRY.unregister(plugin)
    with pytest.raises(sc.SpectralError, match="neither"):  # the exemption went with the plugin
        sc.register(plugin, name="to-measure")
