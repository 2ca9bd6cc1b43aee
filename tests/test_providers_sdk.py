"""The provider SDK: retries (backoff, Retry-After, bounds, what is never retried, logging), the
registry (entry points, factories, by hand, clear errors), per-provider configuration, and the
guide's code excerpts, which must match the example package."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from providers.base import (
    Capability,
    Payee,
    PayoutInstruction,
    PayoutProvider,
    PayoutResult,
    PayoutState,
)
from providers.config import ProviderEnv, StripeConfig
from providers.errors import (
    PayoutNotFound,
    PermanentProviderError,
    ProviderConfigError,
    TransientProviderError,
    UnknownOutcome,
)
from providers.registry import ENTRY_POINT_GROUP, ProviderRegistry, UnknownProvider
from providers.retry import RetryPolicy, call_with_retries, lookup_with_retries, submit_with_retries

DOCS = Path(__file__).resolve().parent.parent / "docs" / "providers.md"


class ScriptedProvider(PayoutProvider):
    """A provider whose answers are a script: each call takes the next error or result."""

    slug = "scripted"
    currencies = frozenset({"USD"})
    capabilities = frozenset({Capability.LOOKUP})

    def __init__(self, script: Sequence[Exception | PayoutResult] = ()) -> None:
        self.script = list(script)
        self.submitted: list[PayoutInstruction] = []
        self.looked_up = 0
        self.closed = False

    def _next(self) -> PayoutResult:
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    async def submit(self, instruction: PayoutInstruction) -> PayoutResult:
        self.submitted.append(instruction)
        return self._next()

    async def lookup(self, payout_id: str, provider_reference: str | None) -> PayoutResult:
        self.looked_up += 1
        return self._next()

    async def close(self) -> None:
        self.closed = True


PAID = PayoutResult("po-1", PayoutState.PAID, "ref-1", "paid")
INSTRUCTION = PayoutInstruction("po-1", "payout:po-1", 500, "USD", Payee("Ann", "US"))
POLICY = RetryPolicy(
    max_attempts=5,
    max_total_seconds=100.0,
    initial_backoff_seconds=1.0,
    max_backoff_seconds=6.0,
    jitter_seconds=0.5,
)


def busy(retry_after: float | None = None) -> TransientProviderError:
    return TransientProviderError("scripted", "busy", retry_after=retry_after)


class Sleeps:
    """Records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


# --- retries --------------------------------------------------------------------------------------


async def test_transient_errors_are_retried_with_the_same_instruction() -> None:
    provider = ScriptedProvider([busy(), busy(), PAID])
    sleeps = Sleeps()
    assert await submit_with_retries(provider, INSTRUCTION, POLICY, sleep=sleeps) == PAID
    assert provider.submitted == [INSTRUCTION] * 3
    assert len(sleeps.waits) == 2


async def test_the_backoff_grows_exponentially_with_bounded_jitter() -> None:
    provider = ScriptedProvider([busy(), busy(), busy(), busy(), PAID])
    sleeps = Sleeps()
    await submit_with_retries(provider, INSTRUCTION, POLICY, sleep=sleeps)
    bases = [1.0, 2.0, 4.0, 6.0]  # initial * 2**(n-1), capped at 6
    for wait, base in zip(sleeps.waits, bases, strict=True):
        assert base <= wait <= min(base + 0.5, 6.0)


async def test_retry_after_is_honoured_when_longer_than_the_backoff() -> None:
    provider = ScriptedProvider([busy(retry_after=9.0), busy(retry_after=0.1), PAID])
    sleeps = Sleeps()
    await submit_with_retries(provider, INSTRUCTION, POLICY, sleep=sleeps)
    assert sleeps.waits[0] == 9.0
    assert 2.0 <= sleeps.waits[1] <= 2.5, "a short Retry-After does not shorten the backoff"


async def test_attempts_are_bounded_and_the_last_transient_error_is_raised() -> None:
    errors = [busy() for _ in range(5)]
    provider = ScriptedProvider([*errors, PAID])
    sleeps = Sleeps()
    with pytest.raises(TransientProviderError) as raised:
        await submit_with_retries(provider, INSTRUCTION, POLICY, sleep=sleeps)
    assert raised.value is errors[-1]
    assert len(provider.submitted) == POLICY.max_attempts
    assert len(sleeps.waits) == POLICY.max_attempts - 1


async def test_a_wait_that_would_pass_the_total_time_gives_up_instead() -> None:
    provider = ScriptedProvider([busy(retry_after=3_600.0), PAID])
    sleeps = Sleeps()
    with pytest.raises(TransientProviderError):
        await submit_with_retries(provider, INSTRUCTION, POLICY, sleep=sleeps)
    assert sleeps.waits == []
    assert len(provider.submitted) == 1


async def test_total_time_bounds_real_waits() -> None:
    policy = RetryPolicy(
        max_attempts=100,
        max_total_seconds=0.3,
        initial_backoff_seconds=0.05,
        max_backoff_seconds=0.05,
        jitter_seconds=0.0,
    )
    provider = ScriptedProvider([busy() for _ in range(100)])
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TransientProviderError):
        await submit_with_retries(provider, INSTRUCTION, policy)
    elapsed = loop.time() - started
    assert elapsed < 0.3 + 0.1, "the last wait ended before the bound; one quick attempt after"
    assert 2 <= len(provider.submitted) <= 6, "gave up on time, far from max_attempts"


@pytest.mark.parametrize(
    "error",
    [
        UnknownOutcome("scripted", "timed out"),
        PermanentProviderError("scripted", "account_closed", "closed"),
        ProviderConfigError("scripted", "bad key"),
    ],
)
async def test_unknown_permanent_and_configuration_errors_are_never_retried(
    error: Exception,
) -> None:
    provider = ScriptedProvider([error, PAID])
    sleeps = Sleeps()
    with pytest.raises(type(error)):
        await submit_with_retries(provider, INSTRUCTION, POLICY, sleep=sleeps)
    assert len(provider.submitted) == 1
    assert sleeps.waits == []


async def test_each_retry_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    provider = ScriptedProvider([busy(retry_after=2.0), PAID])
    with caplog.at_level(logging.WARNING, logger="providers.retry"):
        await submit_with_retries(provider, INSTRUCTION, POLICY, sleep=Sleeps())
    (record,) = caplog.records
    assert record.getMessage() == (
        "scripted submit of payout po-1: attempt 1 failed transiently (scripted: busy); "
        "retrying in 2.00s"
    )


async def test_lookups_retry_transient_errors_but_not_a_missing_payout() -> None:
    provider = ScriptedProvider([busy(), PAID])
    assert await lookup_with_retries(provider, "po-1", None, POLICY, sleep=Sleeps()) == PAID
    assert provider.looked_up == 2
    gone = ScriptedProvider([PayoutNotFound("scripted", "no such payout"), PAID])
    with pytest.raises(PayoutNotFound):
        await lookup_with_retries(gone, "po-1", None, POLICY, sleep=Sleeps())
    assert gone.looked_up == 1


async def test_any_call_can_be_retried() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise busy()
        return "done"

    assert await call_with_retries(flaky, POLICY, what="ping", sleep=Sleeps()) == "done"
    assert len(calls) == 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be at least 1"),
        ({"max_total_seconds": -1.0}, "max_total_seconds must not be negative"),
        ({"jitter_seconds": float("nan")}, "jitter_seconds must not be negative"),
    ],
)
def test_a_policy_refuses_nonsense(changes: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**changes)  # type: ignore[arg-type]


# --- the registry ---------------------------------------------------------------------------------


class SlugOnly(ScriptedProvider):
    slug = "slugonly"


async def test_providers_registered_by_hand_are_found_by_slug() -> None:
    registry = ProviderRegistry({}, discover=False)
    provider = ScriptedProvider()
    registry.register(provider)
    registry.register(provider)  # the same one again is harmless
    assert registry.get("scripted") is provider
    assert "scripted" in registry
    assert registry.slugs() == ["scripted"]
    with pytest.raises(ValueError, match="already registered under 'scripted'"):
        registry.register(ScriptedProvider())
    other = ScriptedProvider()
    registry.register(other, replace=True)
    assert registry.get("scripted") is other
    await registry.close()
    assert other.closed


def test_an_unknown_slug_names_the_known_ones() -> None:
    registry = ProviderRegistry({}, discover=False)
    registry.register(ScriptedProvider())
    with pytest.raises(UnknownProvider) as unknown:
        registry.get("venmo")
    assert str(unknown.value) == (
        "venmo: no payout provider is registered under this slug (known: scripted)"
    )
    assert isinstance(unknown.value, ProviderConfigError)


def test_a_slug_must_be_lower_case() -> None:
    provider = ScriptedProvider()
    provider.slug = "Scripted"  # type: ignore[misc]
    with pytest.raises(ValueError, match="lower-case"):
        ProviderRegistry({}, discover=False).register(provider)


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Installs a distribution on sys.path whose entry points are `lines`, and the module
    `integrator_providers` they can point at."""
    (tmp_path / "integrator_providers.py").write_text(
        "from providers.base import PayoutProvider\n"
        "from tests.test_providers_sdk import ScriptedProvider, SlugOnly\n"
        "\n"
        "class WithEnv(ScriptedProvider):\n"
        "    slug = 'withenv'\n"
        "    @classmethod\n"
        "    def from_env(cls, env):\n"
        "        provider = cls()\n"
        "        provider.env = dict(env)\n"
        "        return provider\n"
        "\n"
        "def factory(env):\n"
        "    provider = ScriptedProvider()\n"
        "    provider.token = env['DIAMONDS_SCRIPTED_TOKEN']\n"
        "    return provider\n"
        "\n"
        "def broken(env):\n"
        "    raise RuntimeError('no network in tests')\n"
        "\n"
        "class NotAProvider:\n"
        "    pass\n"
        "\n"
        "NOT_CALLABLE = 42\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    def install(lines: str) -> None:
        dist = tmp_path / "integrator_providers-1.0.dist-info"
        dist.mkdir(exist_ok=True)
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: integrator-providers\n")
        (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}\n")

    yield install
    sys.modules.pop("integrator_providers", None)


def test_entry_points_name_classes_with_from_env_classes_or_factories(
    installed: Callable[[str], None],
) -> None:
    installed(
        "withenv = integrator_providers:WithEnv\n"
        "scripted = integrator_providers:factory\n"
        "slugonly = integrator_providers:SlugOnly\n"
    )
    env = {"DIAMONDS_SCRIPTED_TOKEN": "t-1"}
    registry = ProviderRegistry(env)
    assert {"withenv", "scripted", "slugonly"} <= set(registry.slugs())
    with_env = registry.get("withenv")
    assert with_env.env == env  # type: ignore[attr-defined]
    assert registry.get("withenv") is with_env, "built once"
    assert registry.get("scripted").token == "t-1"  # type: ignore[attr-defined]
    assert isinstance(registry.get("slugonly"), SlugOnly)


def test_a_provider_registered_by_hand_wins_over_an_entry_point(
    installed: Callable[[str], None],
) -> None:
    installed("scripted = integrator_providers:broken\n")
    registry = ProviderRegistry({})
    mine = ScriptedProvider()
    registry.register(mine)
    assert registry.get("scripted") is mine


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("scripted = integrator_providers:broken", "failed to build: no network in tests"),
        (
            "scripted = integrator_providers:NotAProvider",
            "names NotAProvider, not a PayoutProvider",
        ),
        ("scripted = integrator_providers:NOT_CALLABLE", "is neither a class nor a factory"),
        ("scripted = integrator_providers:nothing_here", "cannot be loaded"),
        (
            "scripted = no_such_module:Provider",
            "cannot be loaded: No module named 'no_such_module'",
        ),
        ("other = integrator_providers:SlugOnly", "built a provider whose slug is 'slugonly'"),
    ],
)
def test_a_bad_entry_point_is_a_clear_configuration_error(
    installed: Callable[[str], None], line: str, message: str
) -> None:
    installed(line + "\n")
    registry = ProviderRegistry({})
    slug = line.split(" = ")[0]
    with pytest.raises(ProviderConfigError) as failed:
        registry.get(slug)
    assert message in str(failed.value)
    assert str(failed.value).startswith(f"{slug}: ")


def test_one_broken_provider_does_not_stop_the_others(installed: Callable[[str], None]) -> None:
    installed("scripted = integrator_providers:broken\nslugonly = integrator_providers:SlugOnly\n")
    registry = ProviderRegistry({})
    assert isinstance(registry.get("slugonly"), SlugOnly)
    with pytest.raises(ProviderConfigError):
        registry.get("scripted")


def test_the_built_in_providers_are_declared_as_entry_points() -> None:
    from importlib.metadata import distribution

    declared = {
        ep.name: ep.value
        for ep in distribution("diamonds").entry_points
        if ep.group == ENTRY_POINT_GROUP
    }
    if not declared:
        pytest.skip("pyproject.toml does not declare diamonds.payout_providers yet")
    assert declared["stripe"] == "providers.stripe:StripeProvider"
    assert {"stripe", "paypal", "sepa", "ach"} <= set(declared)
    assert "bank" not in declared, "one slug per bank rail"
    with pytest.raises(ProviderConfigError, match="DIAMONDS_STRIPE_API_KEY is not set"):
        ProviderRegistry({}).get("stripe")


# --- configuration --------------------------------------------------------------------------------


def test_stripe_configuration_has_defaults_for_all_but_the_key() -> None:
    config = StripeConfig.from_env({"DIAMONDS_STRIPE_API_KEY": "sk_test_123"})
    assert config == StripeConfig(api_key="sk_test_123")
    assert config.api_base == "https://api.stripe.com"
    assert (config.timeout_seconds, config.webhook_tolerance_seconds) == (20.0, 300)
    assert "sk_test_123" not in repr(config)


def test_every_bad_stripe_variable_is_named_at_once() -> None:
    with pytest.raises(ProviderConfigError) as failed:
        StripeConfig.from_env(
            {
                "DIAMONDS_STRIPE_API_KEY": "pk_live_publishable",
                "DIAMONDS_STRIPE_API_BASE": "localhost:12111",
                "DIAMONDS_STRIPE_WEBHOOK_SECRET": "secret",
                "DIAMONDS_STRIPE_TIMEOUT_SECONDS": "forever",
                "DIAMONDS_STRIPE_WEBHOOK_TOLERANCE_SECONDS": "0",
            }
        )
    message = str(failed.value)
    assert message.startswith("stripe: invalid configuration:")
    for expected in (
        "DIAMONDS_STRIPE_API_KEY='pk_l...': expected a Stripe secret key (sk_... or rk_...)",
        "DIAMONDS_STRIPE_API_BASE='localhost:12111': expected a base URL",
        "DIAMONDS_STRIPE_WEBHOOK_SECRET='secr...': expected a webhook signing secret (whsec_...)",
        "DIAMONDS_STRIPE_TIMEOUT_SECONDS='forever': expected a number from 0.05 to 600.0",
        "DIAMONDS_STRIPE_WEBHOOK_TOLERANCE_SECONDS='0': expected a number from 1 to 86400",
    ):
        assert expected in message
    assert "publishable" not in message, "secrets are not echoed"


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("http://127.0.0.1:12111", True),
        ("https://api.stripe.com/", True),
        ("http://127.0.0.1:12111/v1", False),
        ("ftp://example.com", False),
        ("http://host:port", False),
        ("http://example.com?x=1", False),
    ],
)
def test_base_urls_are_scheme_host_and_port(raw: str, ok: bool) -> None:
    read = ProviderEnv("toy", {"DIAMONDS_TOY_API_BASE": raw})
    value = read.url("API_BASE", "https://toy.example")
    assert (read.problems == []) is ok
    if ok:
        assert value == raw.rstrip("/")


def test_blank_values_count_as_unset() -> None:
    read = ProviderEnv("toy", {"DIAMONDS_TOY_API_KEY": "  ", "DIAMONDS_TOY_TIMEOUT": ""})
    read.required("API_KEY", expect="a key")
    assert read.number("TIMEOUT", 5.0, 1.0, 10.0) == 5.0
    assert read.problems == ["DIAMONDS_TOY_API_KEY is not set: expected a key"]
    with pytest.raises(ProviderConfigError, match="DIAMONDS_TOY_API_KEY is not set"):
        read.check()


# --- the guide, docs/providers.md ------------------------------------------------------------


EXAMPLE = DOCS.parent.parent / "examples" / "acme-payouts"


def test_the_guides_code_is_the_example_packages_code() -> None:
    """Every `<!-- example: PATH -->` block of the guide is a verbatim excerpt of that file of
    examples/acme-payouts (the package tests/test_example_acme*.py run), so it cannot rot."""
    text = DOCS.read_text()
    blocks = re.findall(r"<!-- example: (\S+) -->\n```\w*\n(.*?)\n```", text, re.S)
    assert len(blocks) >= 3, "the guide shows the example package's files"
    for path, code in blocks:
        assert code in (EXAMPLE / path).read_text(), f"docs/providers.md: {path} differs"
