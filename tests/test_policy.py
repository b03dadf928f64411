"""Access policy: allow lists, per-model rules, approvals, the rate limit and the policy file."""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.access import (
    AccessPolicy,
    Decision,
    IdKind,
    ModelRule,
    Policy,
    RateLimit,
    load_policy,
    parse_id_list,
    parse_rate,
    rate_decision,
)
from bot.core.options import RetrainOptions
from bot.errors import ConfigError

ALICE = "U0123ABCD"
BOB = "U0999MNOP"
CAROL = "W0555QRST"
TEAM = "S0456EFGH"
OPS = "C0789IJKL"
ELSEWHERE = "C0111AAAA"
PROD_MODEL = "PROD7JXCXTRXTMNLJCEF2DR5C"
PLAIN_MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
NOBODY: frozenset[str] = frozenset()

ISSUE_EXAMPLE = """\
models:
  - match: "PROD*"            # glob on the model ID; the first match wins
    allow_users: [U0123ABCD]
    allow_groups: [S0456EFGH]
    allow_channels: [C0789IJKL]
    protected: true           # needs a second person's approval
    approvers: [U0999MNOP]    # optional; otherwise any user allowed for this model
    max_epochs: 200
    feedback: false           # feedback=true is refused for these models
"""


def write(directory: Path, text: str, *, name: str = "policy.yml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def access(tmp_path: Path | None = None, policy: str | None = None, **lists: str) -> AccessPolicy:
    """An `AccessPolicy` from raw variable values and, optionally, policy-file text."""
    policy_file = write(tmp_path, policy) if tmp_path is not None and policy else None
    return AccessPolicy.from_config(policy_file=policy_file, **lists)


def decide(
    policy: AccessPolicy,
    *,
    user: str = ALICE,
    groups: frozenset[str] = NOBODY,
    channel: str = OPS,
    model: str = PLAIN_MODEL,
    **options: Any,
) -> Decision:
    return policy.decide(
        user=user,
        user_groups=groups,
        channel=channel,
        model_id=model,
        options=RetrainOptions(**options),
    )


def rule(match: str = "PROD*", **fields: Any) -> ModelRule:
    return ModelRule(match=match, number=1, line=2, **fields)


def policy_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    return str(caught.value).removeprefix(f"RETRAIN_POLICY_FILE {path} ")


# --- global allow lists ------------------------------------------------------------------------


def test_empty_lists_allow_everyone_everywhere() -> None:
    """With no RETRAIN_ALLOWED_* set, any user in any channel may retrain."""
    decision = decide(access(), user=CAROL, channel=ELSEWHERE)
    assert decision == Decision(allowed=True)


def test_listed_user_is_allowed() -> None:
    """A user named in RETRAIN_ALLOWED_USERS passes."""
    assert decide(access(allowed_users=f"{ALICE},{BOB}")).allowed


def test_unlisted_user_is_refused_naming_the_list() -> None:
    """A user missing from RETRAIN_ALLOWED_USERS is refused with the variable named."""
    decision = decide(access(allowed_users=BOB))
    assert decision.reason == (
        "You are not on the allow list for retrains (RETRAIN_ALLOWED_USERS); whoever runs the"
        " bot can add you or one of your user groups."
    )


def test_user_in_allowed_group_is_allowed() -> None:
    """Membership of a group in RETRAIN_ALLOWED_GROUPS is enough without being listed."""
    policy = access(allowed_users=BOB, allowed_groups=TEAM)
    assert decide(policy, groups=frozenset({TEAM})).allowed


def test_user_outside_allowed_groups_is_refused() -> None:
    """A user in none of the allowed groups, and not listed, is refused."""
    policy = access(allowed_users=BOB, allowed_groups=TEAM)
    decision = decide(policy, groups=frozenset({"S0000ZZZZ"}))
    assert decision.reason == (
        "You are not on the allow list for retrains"
        " (RETRAIN_ALLOWED_USERS, RETRAIN_ALLOWED_GROUPS); whoever runs the bot can add you"
        " or one of your user groups."
    )


def test_channel_not_listed_is_refused() -> None:
    """A retrain from a channel missing from RETRAIN_ALLOWED_CHANNELS is refused."""
    decision = decide(access(allowed_channels=OPS), channel=ELSEWHERE)
    assert decision.reason == (
        "This channel is not one where retrains are allowed (RETRAIN_ALLOWED_CHANNELS);"
        " type it in <#C0789IJKL>."
    )


def test_allowed_user_still_needs_an_allowed_channel() -> None:
    """User and channel must both pass."""
    policy = access(allowed_users=ALICE, allowed_channels=OPS)
    assert decide(policy).allowed
    assert not decide(policy, channel=ELSEWHERE).allowed


# --- per-model rules ---------------------------------------------------------------------------

OVERLAPPING = """\
models:
  - match: "PROD*"
    allow_users: [U0123ABCD]
  - match: "P*"
    allow_users: [U0999MNOP]
"""


def test_first_matching_rule_wins(tmp_path: Path) -> None:
    """A model matching two globs gets the earlier rule."""
    policy = access(tmp_path, OVERLAPPING)
    first, second = policy.policy.rules
    assert policy.rule_for("PROD1") == first
    assert policy.rule_for("PX1") == second


def test_rule_matching_is_case_sensitive(tmp_path: Path) -> None:
    """`PROD*` does not match `prod1`: model IDs are compared exactly."""
    assert access(tmp_path, OVERLAPPING).rule_for("prod1") is None


def test_model_without_rule_uses_global_lists(tmp_path: Path) -> None:
    """A model no glob matches is judged by RETRAIN_ALLOWED_USERS alone."""
    policy = access(tmp_path, OVERLAPPING, allowed_users=CAROL)
    assert decide(policy, user=CAROL, model="X1").allowed
    assert not decide(policy, user=ALICE, model="X1").allowed


def test_rule_people_list_replaces_global_lists(tmp_path: Path) -> None:
    """A rule's own user list decides for its models, whatever the global list says."""
    policy = access(tmp_path, OVERLAPPING, allowed_users=CAROL)
    assert decide(policy, user=ALICE, model="PROD1").allowed
    refused = decide(policy, user=CAROL, model="PROD1")
    assert refused.reason == (
        "You are not on the allow list for models matching `PROD*` (policy file rule 1, line 2);"
        " whoever keeps the policy file can add you or one of your user groups."
    )
    assert refused.rule == policy.rule_for("PROD1")


def test_rule_group_admits_its_members(tmp_path: Path) -> None:
    """A member of a rule's group passes for the rule's models."""
    policy = access(tmp_path, ISSUE_EXAMPLE)
    assert decide(policy, user=CAROL, groups=frozenset({TEAM}), model=PROD_MODEL, epochs=10).allowed


def test_rule_channel_list_replaces_global_channels(tmp_path: Path) -> None:
    """A rule's channel list decides where its models may be retrained."""
    text = 'models:\n  - match: "PROD*"\n    allow_channels: [C0111AAAA]\n'
    policy = access(tmp_path, text, allowed_channels=OPS)
    assert decide(policy, channel=ELSEWHERE, model=PROD_MODEL).allowed
    refused = decide(policy, channel=OPS, model=PROD_MODEL)
    assert refused.reason == (
        "This channel is not one where models matching `PROD*` can be retrained"
        " (policy file rule 1, line 2); type it in <#C0111AAAA>."
    )


def test_rule_without_people_list_keeps_global_people(tmp_path: Path) -> None:
    """A rule that lists no users or groups leaves RETRAIN_ALLOWED_USERS in force."""
    policy = access(
        tmp_path, 'models:\n  - match: "PROD*"\n    max_epochs: 50\n', allowed_users=BOB
    )
    assert not decide(policy, user=ALICE, model=PROD_MODEL, epochs=10).allowed
    assert decide(policy, user=BOB, model=PROD_MODEL, epochs=10).allowed


# --- options a rule limits ---------------------------------------------------------------------


@pytest.fixture
def prod(tmp_path: Path) -> AccessPolicy:
    """The issue's example rule, without protection, so only the options are judged."""
    text = ISSUE_EXAMPLE.replace("protected: true", "protected: false").replace(
        "    approvers: [U0999MNOP]    # optional; otherwise any user allowed for this model\n", ""
    )
    return access(tmp_path, text)


def test_epochs_above_the_limit_are_refused(prod: AccessPolicy) -> None:
    """Asking for more epochs than `max_epochs` is refused with both numbers."""
    decision = decide(prod, model=PROD_MODEL, epochs=500)
    assert decision.reason == (
        "Models matching `PROD*` allow at most 200 epochs; you asked for 500:"
        " use `epochs=200` or fewer."
    )


@pytest.mark.parametrize("epochs", [1, 199, 200])
def test_epochs_within_the_limit_are_allowed(prod: AccessPolicy, epochs: int) -> None:
    """Any explicit epochs up to and including `max_epochs` pass."""
    assert decide(prod, model=PROD_MODEL, epochs=epochs).allowed


def test_unset_epochs_are_refused_under_a_limit(prod: AccessPolicy) -> None:
    """Without `epochs=`, Einstein could pick up to 1000, so the retrain is refused."""
    decision = decide(prod, model=PROD_MODEL)
    assert decision.reason == (
        "Models matching `PROD*` allow at most 200 epochs, and without `epochs=` Einstein may"
        " choose up to 1000; add `epochs=200` or fewer."
    )


def test_feedback_true_is_refused_when_the_rule_forbids_it(prod: AccessPolicy) -> None:
    """`feedback: false` refuses `feedback=true`."""
    decision = decide(prod, model=PROD_MODEL, epochs=10, with_feedback=True)
    assert decision.reason == (
        "Models matching `PROD*` cannot be retrained with feedback=true: leave `feedback` out"
        " or use `feedback=false`."
    )


def test_every_broken_option_is_named_at_once(prod: AccessPolicy) -> None:
    """`epochs=500 feedback=true` is refused for both, each with what would pass."""
    decision = decide(prod, model=PROD_MODEL, epochs=500, with_feedback=True)
    assert decision.broken == (
        "Models matching `PROD*` allow at most 200 epochs; you asked for 500:"
        " use `epochs=200` or fewer.",
        "Models matching `PROD*` cannot be retrained with feedback=true: leave `feedback` out"
        " or use `feedback=false`.",
    )
    assert decision.reason == (
        "It breaks 2 rules; fix them all and try again:\n"
        f"• {decision.broken[0]}\n• {decision.broken[1]}"
    )


def test_people_channel_and_options_are_all_named(tmp_path: Path) -> None:
    """A stranger in the wrong channel asking for too many epochs hears of all three rules."""
    decision = decide(
        access(tmp_path, ISSUE_EXAMPLE), user=CAROL, channel=ELSEWHERE, model=PROD_MODEL
    )
    assert [reason.split(" ", 3)[:3] for reason in decision.broken] == [
        ["You", "are", "not"],
        ["This", "channel", "is"],
        ["Models", "matching", "`PROD*`"],
    ]
    assert decision.reason is not None
    assert decision.reason.startswith("It breaks 3 rules")


def test_more_than_five_allowed_channels_are_counted() -> None:
    """A refusal names five allowed channels and counts the rest."""
    channels = ",".join(f"C0{n}AAAAAAA" for n in range(7))
    decision = decide(access(allowed_channels=channels), channel=ELSEWHERE)
    assert decision.reason is not None
    assert decision.reason.endswith("<#C04AAAAAAA> or 2 other channels.")


@pytest.mark.parametrize("feedback", [False, None])
def test_feedback_false_or_unset_passes(prod: AccessPolicy, feedback: bool | None) -> None:
    """Only an explicit `feedback=true` is refused; Einstein's default is false."""
    assert decide(prod, model=PROD_MODEL, epochs=10, with_feedback=feedback).allowed


def test_unset_epochs_pass_without_a_limit(tmp_path: Path) -> None:
    """A rule without `max_epochs` lets Einstein choose."""
    policy = access(tmp_path, 'models:\n  - match: "PROD*"\n    feedback: false\n')
    assert decide(policy, model=PROD_MODEL).allowed


# --- protected models and approvals ------------------------------------------------------------


def test_protected_model_needs_approval_by_listed_approvers(tmp_path: Path) -> None:
    """An allowed retrain of a protected model asks for the rule's approvers."""
    policy = access(tmp_path, ISSUE_EXAMPLE)
    decision = decide(policy, model=PROD_MODEL, epochs=100)
    assert decision.allowed
    assert decision.needs_approval
    assert decision.approvers == frozenset({BOB})
    assert decision.rule is not None
    assert decision.rule.match == "PROD*"


def test_protected_model_without_approvers_leaves_them_open(tmp_path: Path) -> None:
    """Without an approvers list, `approvers` is None: anyone allowed for the model."""
    policy = access(tmp_path, 'models:\n  - match: "PROD*"\n    protected: true\n')
    decision = decide(policy, model=PROD_MODEL)
    assert decision.needs_approval
    assert decision.approvers is None


def test_unprotected_model_needs_no_approval(tmp_path: Path) -> None:
    """A matching rule without `protected` asks for no approval."""
    policy = access(tmp_path, OVERLAPPING)
    assert not decide(policy, model="PROD1").needs_approval


def test_requester_cannot_approve_their_own_retrain() -> None:
    """Self-approval is refused even for a listed approver."""
    protected = rule(protected=True, approvers=frozenset({ALICE, BOB}))
    decision = AccessPolicy().may_approve(
        protected, approver=ALICE, approver_groups=NOBODY, requester=ALICE
    )
    assert decision.reason == "You cannot approve your own retrain; someone else has to."


def test_listed_approver_may_approve() -> None:
    """A user in the rule's approvers list may approve someone else's retrain."""
    protected = rule(protected=True, approvers=frozenset({BOB}))
    decision = AccessPolicy().may_approve(
        protected, approver=BOB, approver_groups=NOBODY, requester=ALICE
    )
    assert decision.allowed


def test_approver_not_listed_is_refused() -> None:
    """With an approvers list, being allowed to retrain is not enough to approve."""
    protected = rule(protected=True, approvers=frozenset({BOB}), allow_users=frozenset({CAROL}))
    decision = AccessPolicy().may_approve(
        protected, approver=CAROL, approver_groups=NOBODY, requester=ALICE
    )
    assert decision.reason == (
        "Only the approvers listed for models matching `PROD*` can approve this retrain"
        " (policy file rule 1, line 2)."
    )


def test_any_allowed_user_may_approve_without_a_list() -> None:
    """Without approvers, a member of the rule's allowed group may approve."""
    protected = rule(protected=True, allow_users=frozenset({ALICE}), allow_groups=frozenset({TEAM}))
    decision = AccessPolicy().may_approve(
        protected, approver=CAROL, approver_groups=frozenset({TEAM}), requester=ALICE
    )
    assert decision.allowed


def test_user_not_allowed_for_the_model_may_not_approve() -> None:
    """Without approvers, someone outside the model's allow list cannot approve."""
    protected = rule(protected=True, allow_users=frozenset({ALICE}))
    decision = AccessPolicy().may_approve(
        protected, approver=CAROL, approver_groups=NOBODY, requester=ALICE
    )
    assert decision.reason == (
        "Only people allowed to retrain models matching `PROD*` can approve this retrain"
        " (policy file rule 1, line 2)."
    )


def test_approval_falls_back_to_global_lists() -> None:
    """A rule without its own people list lets anyone on the global lists approve."""
    policy = AccessPolicy(allowed_users=frozenset({ALICE, BOB}))
    protected = rule(protected=True)
    allowed = policy.may_approve(protected, approver=BOB, approver_groups=NOBODY, requester=ALICE)
    assert allowed.allowed
    refused = policy.may_approve(protected, approver=CAROL, approver_groups=NOBODY, requester=ALICE)
    assert not refused.allowed


@pytest.mark.parametrize(
    "fields",
    [
        {"approvers": frozenset({ALICE})},
        {"allow_users": frozenset({ALICE})},
    ],
)
def test_request_nobody_else_could_approve_is_refused(fields: dict[str, Any]) -> None:
    """When the requester is the only possible approver, the request is refused at once."""
    policy = AccessPolicy(policy=Policy(rules=(rule(protected=True, **fields),)))
    decision = decide(policy, model=PROD_MODEL)
    assert decision.reason == (
        "Models matching `PROD*` need a second person's approval, and nobody but you may"
        " approve (policy file rule 1, line 2); whoever keeps the policy file can add another"
        " approver."
    )


def test_approvers_may_be_user_groups(tmp_path: Path) -> None:
    """`approvers` may list a user group: the decision carries it, its members may approve."""
    text = (
        'models:\n  - match: "PROD*"\n    protected: true\n    approvers: [S0456EFGH, U0999MNOP]\n'
    )
    policy = access(tmp_path, text)
    decision = decide(policy, model=PROD_MODEL)
    assert decision.approvers == frozenset({TEAM, BOB})
    protected = policy.rule_for(PROD_MODEL)
    assert protected is not None
    assert protected.approver_groups == frozenset({TEAM})
    member = policy.may_approve(
        protected, approver=CAROL, approver_groups=frozenset({TEAM}), requester=ALICE
    )
    assert member.allowed
    stranger = policy.may_approve(
        protected, approver=CAROL, approver_groups=NOBODY, requester=ALICE
    )
    assert not stranger.allowed
    assert policy.approver_groups_for(PROD_MODEL) == frozenset({TEAM})
    assert policy.uses_groups


def test_a_group_of_approvers_is_not_refused_at_once() -> None:
    """With a group among the approvers someone else may approve, so the request waits."""
    rules = (rule(protected=True, approvers=frozenset({ALICE, TEAM})),)
    decision = decide(AccessPolicy(policy=Policy(rules=rules)), model=PROD_MODEL)
    assert decision.needs_approval


def test_a_channel_among_approvers_is_refused_with_its_line(tmp_path: Path) -> None:
    """An approver entry that is neither a user nor a user group is named with its line."""
    text = 'models:\n  - match: "PROD*"\n    protected: true\n    approvers: [C0789IJKL]\n'
    assert policy_error(tmp_path, text) == (
        "line 4: models[0].approvers[0]: must be a user or user group ID like U0999MNOP"
        " (U, W or S, then capital letters and digits), not a channel ID"
    )


# --- group lookups -----------------------------------------------------------------------------


def test_groups_are_never_needed_without_group_lists(tmp_path: Path) -> None:
    """Without any group list, the bot never has to ask Slack for memberships."""
    policy = access(tmp_path, OVERLAPPING, allowed_users=ALICE)
    assert not policy.uses_groups
    assert not policy.groups_needed("PROD1")
    assert not policy.groups_needed("X1")


def test_groups_are_needed_only_for_models_whose_list_has_groups(tmp_path: Path) -> None:
    """A group in a rule makes lookups needed for that rule's models only."""
    policy = access(tmp_path, ISSUE_EXAMPLE)
    assert policy.uses_groups
    assert policy.groups_needed(PROD_MODEL)
    assert not policy.groups_needed(PLAIN_MODEL)


def test_groups_are_not_needed_for_a_directly_listed_user(tmp_path: Path) -> None:
    """A user named in the list passes without their groups."""
    policy = access(tmp_path, ISSUE_EXAMPLE)
    assert not policy.groups_needed(PROD_MODEL, user=ALICE)
    assert policy.groups_needed(PROD_MODEL, user=CAROL)


# --- rate limit: parsing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "count", "seconds"),
    [
        ("5/hour", 5, 3600),
        ("10/day", 10, 86400),
        ("3/30m", 3, 1800),
        ("1/min", 1, 60),
        ("2/90s", 2, 90),
        ("2/90sec", 2, 90),
        ("4/1second", 4, 1),
        ("4/2h", 4, 7200),
        ("4/2hours", 4, 7200),
        ("6/15minutes", 6, 900),
        ("7/3d", 7, 3 * 86400),
        (" 5 / HOUR ", 5, 3600),
        ("5/2 days", 5, 2 * 86400),
    ],
)
def test_rate_forms_parse(raw: str, count: int, seconds: int) -> None:
    """Every documented form, with spaces, plurals and any case, becomes a `RateLimit`."""
    assert parse_rate(raw) == RateLimit(count, seconds)


@pytest.mark.parametrize("raw", [None, "", "  ", "off", "OFF", "none"])
def test_rate_unset_or_off_is_no_limit(raw: str | None) -> None:
    """Unset, blank or `off` means no rate limit (the default)."""
    assert parse_rate(raw) is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("5", "write it as <count>/<period>, e.g. 5/hour, 10/day or 3/30m"),
        ("5 per hour", "write it as <count>/<period>, e.g. 5/hour, 10/day or 3/30m"),
        ("5/h/2", "write it as <count>/<period>, e.g. 5/hour, 10/day or 3/30m"),
        ("/hour", "a count must come before `/` (e.g. 5/hour, 10/day or 3/30m)"),
        ("5/", "a period must follow `/` (e.g. 5/hour, 10/day or 3/30m)"),
        ("five/hour", "the count `five` must be a whole number (e.g. 5/hour, 10/day or 3/30m)"),
        ("0/hour", "the count must be at least 1; leave it empty for no limit"),
        ("1001/hour", "the count must be at most 1000"),
        ("5/30", "the period `30` needs a unit: s, m, h or d"),
        ("5/0m", "the period must be at least one second"),
        ("5/366d", "the period must be at most 365 days"),
        ("5/fortnight", "unknown time unit `fortnight`; use s, m, h or d (e.g. 5/hour,"),
        ("5/hr", "unknown time unit `hr`; use s, m, h or d; did you mean `hour`?"),
        ("5/500ms", "unknown time unit `ms`; use s, m, h or d"),
        ("5/1.5h", "the period `1.5h` must be a unit, optionally after a whole number"),
    ],
)
def test_bad_rate_forms_are_refused_specifically(raw: str, message: str) -> None:
    """Each malformed rate gets its own message naming RETRAIN_USER_RATE."""
    with pytest.raises(ConfigError) as caught:
        parse_rate(raw)
    assert str(caught.value).startswith(f"RETRAIN_USER_RATE: {message}")


@pytest.mark.parametrize(
    ("limit", "text"),
    [
        (RateLimit(5, 3600), "5/hour"),
        (RateLimit(10, 86400), "10/day"),
        (RateLimit(3, 1800), "3/30m"),
        (RateLimit(1, 60), "1/min"),
        (RateLimit(2, 90), "2/90s"),
        (RateLimit(2, 1), "2/second"),
    ],
)
def test_rate_limit_prints_in_short_form(limit: RateLimit, text: str) -> None:
    """A limit prints in the short form people write."""
    assert str(limit) == text


@given(count=st.integers(1, 1000), seconds=st.integers(1, 365 * 86400))
def test_rate_limit_text_parses_back(count: int, seconds: int) -> None:
    """The printed form of any limit parses back to the same limit."""
    limit = RateLimit(count, seconds)
    assert parse_rate(str(limit)) == limit


@given(st.text(max_size=30))
def test_parse_rate_fails_only_with_config_error(raw: str) -> None:
    """Whatever the variable holds, parsing gives a limit, None or a `ConfigError`."""
    with contextlib.suppress(ConfigError):
        parse_rate(raw)


# --- rate limit: decisions ---------------------------------------------------------------------

NOW = datetime(2024, 5, 2, 14, 0, tzinfo=UTC)
HOURLY = RateLimit(5, 3600)


def minutes_ago(*minutes: float) -> list[datetime]:
    return [NOW - timedelta(minutes=m) for m in minutes]


def test_below_the_limit_is_allowed() -> None:
    """Four starts in the last hour leave room for a fifth."""
    assert rate_decision(HOURLY, minutes_ago(28, 20, 10, 5), NOW).allowed


def test_at_the_limit_is_refused_with_the_next_time() -> None:
    """The sixth start is refused until the oldest counted one leaves the window."""
    decision = rate_decision(HOURLY, minutes_ago(28, 20, 10, 5, 1), NOW)
    assert decision.reason == (
        "You have started 5 retrains in the last hour (limit 5/hour);"
        " the next one is possible at 14:32 UTC."
    )


def test_start_exactly_one_window_ago_no_longer_counts() -> None:
    """The window is open at its start: a retrain 60 minutes ago is out of `5/hour`."""
    assert rate_decision(HOURLY, minutes_ago(60, 20, 10, 5, 1), NOW).allowed
    assert not rate_decision(HOURLY, minutes_ago(59.99, 20, 10, 5, 1), NOW).allowed


def test_next_time_is_rounded_up_to_the_minute() -> None:
    """A slot freeing at 14:32:20 is announced as 14:33, never too early."""
    decision = rate_decision(HOURLY, minutes_ago(27 + 40 / 60, 20, 10, 5, 1), NOW)
    assert decision.reason is not None
    assert decision.reason.endswith("the next one is possible at 14:33 UTC.")


def test_short_wait_is_given_in_seconds() -> None:
    """A wait under a minute is said in seconds."""
    decision = rate_decision(RateLimit(2, 30), [NOW - timedelta(seconds=10)] * 2, NOW)
    assert decision.reason == (
        "You have started 2 retrains in the last 30 seconds (limit 2/30s);"
        " the next one is possible in 20 seconds."
    )


def test_next_time_on_another_day_gives_the_date() -> None:
    """A slot freeing tomorrow names the date."""
    decision = rate_decision(RateLimit(1, 86400), minutes_ago(60), NOW)
    assert decision.reason == (
        "You have started 1 retrain in the last day (limit 1/day);"
        " the next one is possible at 13:00 UTC on 2024-05-03."
    )


def test_naive_times_are_read_as_utc() -> None:
    """Times without a zone, as some databases return them, count as UTC."""
    naive = [moment.replace(tzinfo=None) for moment in minutes_ago(28, 20, 10, 5, 1)]
    assert not rate_decision(HOURLY, naive, NOW.replace(tzinfo=None)).allowed


@given(
    offsets=st.lists(st.integers(-600, 7200), max_size=12),
    count=st.integers(1, 6),
)
def test_rate_refuses_exactly_when_the_window_is_full(offsets: Sequence[int], count: int) -> None:
    """Allowed if and only if fewer than `count` starts lie within the last hour."""
    times = [NOW - timedelta(seconds=offset) for offset in offsets]
    in_window = sum(1 for offset in offsets if offset < 3600)
    assert rate_decision(RateLimit(count, 3600), times, NOW).allowed == (in_window < count)


def test_check_rate_without_a_limit_allows() -> None:
    """An `AccessPolicy` without RETRAIN_USER_RATE never refuses on rate."""
    assert AccessPolicy().check_rate(minutes_ago(*range(100)), now=NOW).allowed
    assert AccessPolicy().rate_window is None


def test_check_rate_applies_the_configured_limit() -> None:
    """An `AccessPolicy` with a limit refuses a full window."""
    policy = access(user_rate="5/hour")
    assert policy.rate_window == timedelta(hours=1)
    assert not policy.check_rate(minutes_ago(28, 20, 10, 5, 1), now=NOW).allowed


# --- the policy file ---------------------------------------------------------------------------


def test_issue_example_loads(tmp_path: Path) -> None:
    """The example from the issue loads into one rule that remembers its line."""
    (loaded,) = load_policy(write(tmp_path, ISSUE_EXAMPLE)).rules
    assert loaded == ModelRule(
        match="PROD*",
        number=1,
        line=2,
        allow_users=frozenset({ALICE}),
        allow_groups=frozenset({TEAM}),
        allow_channels=frozenset({OPS}),
        protected=True,
        approvers=frozenset({BOB}),
        max_epochs=200,
        feedback=False,
    )


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "~\n", "models: []\n"])
def test_empty_file_has_no_rules(tmp_path: Path, text: str) -> None:
    """An empty file, comments alone or an empty list mean no rules."""
    assert load_policy(write(tmp_path, text)).rules == ()


def test_yaml_anchors_and_merges_are_followed(tmp_path: Path) -> None:
    """A rule may reuse another's keys with `<<`, and its line is still its own."""
    text = """\
    models:
      - &prod {match: "PROD*", allow_users: [U0123ABCD]}
      - <<: *prod
        match: "TEST*"
    """
    _, reused = load_policy(write(tmp_path, text)).rules
    assert (reused.match, reused.allow_users, reused.line) == ("TEST*", frozenset({ALICE}), 3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            """\
            models:
              - match: "PROD*"
                alow_users: [U0123ABCD]
            """,
            "line 3: models[0].alow_users: unknown key; did you mean `allow_users`?",
            id="unknown key",
        ),
        pytest.param(
            """\
            models:
              - match: "PROD*"
                allow_users: [U0123ABCD]
              - match: "TEST*"
                allow_users:
                  - U0123ABCD
                max_epochs: 5000
            """,
            "line 7: models[1].max_epochs: must be between 1 and 1000",
            id="max_epochs out of range",
        ),
        pytest.param(
            'models:\n  - match: "PROD*"\n    max_epochs: "200"\n',
            "line 3: models[0].max_epochs: must be a whole number, not text",
            id="quoted number",
        ),
        pytest.param(
            'models:\n  - match: "PROD*"\n    protected: "yes"\n',
            "line 3: models[0].protected: must be true or false, not text",
            id="quoted boolean",
        ),
        pytest.param(
            'models:\n  - match: "PROD*"\n    allow_users: U0123ABCD, U0999MNOP\n',
            "line 3: models[0].allow_users: must be a list like [U0123ABCD], not text",
            id="list written as text",
        ),
        pytest.param(
            'models:\n  - match: "PROD-*"\n',
            "line 2: models[0].match: must be letters, digits and the glob characters"
            " * ? [ ] ! - (model IDs are letters and digits only)",
            id="glob with a dash",
        ),
        pytest.param(
            'models:\n  - match: ""\n',
            "line 2: models[0].match: must not be empty; use `*` to match every model",
            id="empty glob",
        ),
        pytest.param(
            'models:\n  - match: "PROD[Z-A]*"\n',
            "line 2: models[0].match: must not hold the backwards range `Z-A`, which matches"
            " nothing",
            id="backwards range",
        ),
        pytest.param(
            'models:\n  - match: "PROD*"\n    allow_users:\n      - U0123ABCD\n      - u0999mnop\n',
            "line 5: models[0].allow_users[1]: must be a user ID like U0123ABCD (U or W, then"
            " capital letters and digits); Slack IDs are upper case",
            id="lower-case user ID",
        ),
        pytest.param(
            'models:\n  - match: "PROD*"\n    allow_groups: [U0123ABCD]\n',
            "line 3: models[0].allow_groups[0]: must be a user group ID like S0456EFGH (S, then"
            " capital letters and digits), not a user ID",
            id="user ID among groups",
        ),
        pytest.param(
            'models:\n  - match: "PROD*"\n    allow_channels: ["#ml-ops"]\n',
            "line 3: models[0].allow_channels[0]: must be a channel ID like C0789IJKL (C, G or D,"
            " then capital letters and digits), not a name (the ID is in the channel's details)",
            id="channel name",
        ),
        pytest.param(
            'models:\n  - match: "PROD*"\n    allow_channels: []\n',
            "line 3: models[0].allow_channels: must list at least one channel ID; leave the key"
            " out to use RETRAIN_ALLOWED_CHANNELS",
            id="empty list",
        ),
        pytest.param(
            'models:\n  - match: "PROD*"\n    allow_users:\n',
            "line 3: models[0].allow_users: has no value; give one or leave the key out",
            id="key without value",
        ),
        pytest.param(
            "models:\n  - max_epochs: 3\n",
            'line 2: models[0].match: is required (a glob on the model ID, e.g. "PROD*")',
            id="rule without match",
        ),
        pytest.param(
            'models:\n  - match: "PROD*"\n    approvers: [U0999MNOP]\n',
            "line 3: models[0].approvers: only apply to protected models; add `protected: true`"
            " or remove approvers",
            id="approvers without protection",
        ),
        pytest.param(
            'models:\n  - match: "*"\n  - match: "PROD*"\n',
            "line 3: models[1].match: `PROD*` never applies: rule 1 (`*`) matches those models"
            " first",
            id="rule after a catch-all",
        ),
        pytest.param(
            """\
            models:
              - match: "PROD*"
                allow_users: [U0123ABCD]
                allow_users: [U0999MNOP]
            """,
            "line 4: models[0].allow_users: duplicate key (first on line 3)",
            id="duplicate key",
        ),
        pytest.param(
            'models:\n  - match: "PROD*"\n   allow_users: [U0123ABCD]\n',
            "line 3: invalid YAML: expected <block end>, but found '<block mapping start>'"
            " (while parsing a block collection on line 2)",
            id="bad indentation",
        ),
        pytest.param(
            'models:\n  - match: "PROD*\n',
            "line 3: invalid YAML: found unexpected end of stream (while scanning a quoted"
            " scalar on line 2)",
            id="unclosed quote",
        ),
        pytest.param(
            "models:\n\t- match: PROD1\n",
            "line 2: invalid YAML: found character '\\t' that cannot start any token",
            id="tab indentation",
        ),
        pytest.param(
            "models:\n  - match: PROD1\n    since: 2024-13-01\n",
            "line 3: invalid YAML value: month must be in 1..12",
            id="impossible date",
        ),
        pytest.param(
            "rules:\n  - match: PROD1\n",
            "line 1: models: is required (the list of rules; `models: []` for none)"
            " (and 1 more problem)",
            id="missing models",
        ),
        pytest.param(
            "models: PROD*\n",
            "line 1: models: must be a list of `- match: ...` items, not text",
            id="models not a list",
        ),
        pytest.param(
            "models:\n  - PROD*\n",
            "line 2: models[0]: must be a mapping of `key: value` lines, not text",
            id="rule not a mapping",
        ),
        pytest.param(
            "- match: PROD*\n",
            "line 1: the file must be a mapping with a `models:` list, not a list",
            id="top level is a list",
        ),
    ],
)
def test_policy_file_mistakes_name_their_line(tmp_path: Path, text: str, message: str) -> None:
    """Each mistake in the file is reported as one line with its line number and path."""
    assert policy_error(tmp_path, textwrap.dedent(text)) == message


def test_file_that_is_not_utf8_is_refused_with_its_line(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are reported at their line."""
    path = tmp_path / "policy.yml"
    path.write_bytes(b"models:\n  - match: PROD\xe9\n")
    with pytest.raises(ConfigError, match=r"policy\.yml line 2: the file is not UTF-8 text$"):
        load_policy(path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    """A policy file that does not exist stops start-up with the variable named."""
    path = tmp_path / "absent.yml"
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    assert str(caught.value) == (
        f"RETRAIN_POLICY_FILE {path}: cannot read the file (No such file or directory)"
    )


YAML_PIECES = [
    "models:", "models: []", "- ", "  ", "\n", "match: ", '"PROD*"', "PROD*", "[", "]", "{", "}",
    ", ", ": ", "allow_users: ", "U0123ABCD", "S0456EFGH", "max_epochs: ", "5000", "0", "true",
    "&a ", "*a", "<<: ", "!!str ", "!!python/object:os.system ", "2024-13-01", "---", "~", "#",
    "'", '"', "\t", "?", "|", ">",
]  # fmt: skip


def yaml_like_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(["models", "match", "allow_users", "max_epochs", "protected", "x"]),
                inner,
                max_size=4,
            )
        ),
        max_leaves=12,
    )


@pytest.fixture(scope="module")
def fuzz_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "policy.yml"


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(max_size=200)
    | st.lists(st.sampled_from(YAML_PIECES), max_size=30).map("".join)
    | yaml_like_values().map(lambda value: yaml.safe_dump(value, allow_unicode=True))
)
def test_load_policy_fails_only_with_config_error(fuzz_file: Path, text: str) -> None:
    """Whatever the file holds, loading gives a `Policy` or a `ConfigError`, nothing else."""
    fuzz_file.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_policy(fuzz_file)
    except ConfigError as exc:
        message = str(exc)
    else:
        return
    assert message.startswith(f"RETRAIN_POLICY_FILE {fuzz_file}")


# --- RETRAIN_ALLOWED_* lists -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, frozenset()),
        ("", frozenset()),
        ("   ", frozenset()),
        ("U0123ABCD", frozenset({ALICE})),
        (" U0123ABCD ,W0555QRST,  ", frozenset({ALICE, CAROL})),
        ("U0123ABCD,U0123ABCD", frozenset({ALICE})),
    ],
)
def test_id_lists_parse_tolerating_spaces(raw: str | None, expected: frozenset[str]) -> None:
    """Comma-separated IDs with stray spaces or a trailing comma parse; blank is open."""
    assert parse_id_list(raw, kind="user", variable="RETRAIN_ALLOWED_USERS") == expected


@pytest.mark.parametrize(
    ("raw", "kind", "message"),
    [
        (
            "U0123ABCD, alice",
            "user",
            "RETRAIN_ALLOWED_USERS: entry 2 `alice` must be a user ID like U0123ABCD"
            " (U or W, then capital letters and digits)",
        ),
        (
            "@alice",
            "user",
            "RETRAIN_ALLOWED_USERS: entry 1 `@alice` must be a user ID like U0123ABCD"
            " (U or W, then capital letters and digits), not a name"
            " (copy the member ID from the user's profile)",
        ),
        (
            "U0123ABCD U0999MNOP",
            "user",
            "RETRAIN_ALLOWED_USERS: entry 1 `U0123ABCD U0999MNOP` contains a space;"
            " separate IDs with commas",
        ),
        (
            "S0456EFGH,C0789IJKL",
            "group",
            "RETRAIN_ALLOWED_GROUPS: entry 2 `C0789IJKL` must be a user group ID like S0456EFGH"
            " (S, then capital letters and digits), not a channel ID",
        ),
        (
            "#ml-ops",
            "channel",
            "RETRAIN_ALLOWED_CHANNELS: entry 1 `#ml-ops` must be a channel ID like C0789IJKL"
            " (C, G or D, then capital letters and digits), not a name"
            " (the ID is in the channel's details)",
        ),
        (
            " , ,",
            "channel",
            "RETRAIN_ALLOWED_CHANNELS: holds commas but no IDs; list channel IDs or leave it"
            " empty to allow all",
        ),
    ],
)
def test_bad_id_lists_name_variable_and_entry(raw: str, kind: IdKind, message: str) -> None:
    """A bad entry is refused naming the variable, its position and what was expected."""
    variable = {"user": "USERS", "group": "GROUPS", "channel": "CHANNELS"}[kind]
    with pytest.raises(ConfigError) as caught:
        parse_id_list(raw, kind=kind, variable=f"RETRAIN_ALLOWED_{variable}")
    assert str(caught.value) == message


@pytest.mark.parametrize("secret", ["xoxb-1234-5678-abcdefgh", "sk-" + "a1" * 20])
def test_id_list_errors_do_not_echo_secrets(secret: str) -> None:
    """Token-like or long entries are described by length, never shown."""
    with pytest.raises(ConfigError) as caught:
        parse_id_list(f"U0123ABCD,{secret}", kind="user", variable="RETRAIN_ALLOWED_USERS")
    assert secret not in str(caught.value)
    assert f"entry 2 ({len(secret)} characters, not shown)" in str(caught.value)


# --- wiring and summary ------------------------------------------------------------------------


def test_from_config_reads_every_variable(tmp_path: Path) -> None:
    """`from_config` parses the lists, loads the file and reads the rate."""
    policy = AccessPolicy.from_config(
        allowed_users="U0123ABCD",
        allowed_groups="S0456EFGH",
        allowed_channels="C0789IJKL",
        policy_file=write(tmp_path, ISSUE_EXAMPLE),
        user_rate="5/hour",
    )
    assert policy.allowed_users == frozenset({ALICE})
    assert policy.allowed_groups == frozenset({TEAM})
    assert policy.allowed_channels == frozenset({OPS})
    assert len(policy.policy.rules) == 1
    assert policy.rate_limit == RateLimit(5, 3600)


def test_describe_says_loudly_when_open() -> None:
    """With nothing configured, the summary says everyone may retrain."""
    assert AccessPolicy().describe() == (
        "open to everyone (no RETRAIN_ALLOWED_* set); no policy file; no rate limit"
    )
    assert AccessPolicy().is_open


def test_describe_summarises_lists_rules_and_rate(tmp_path: Path) -> None:
    """The summary counts the lists, lists each rule and gives the rate limit."""
    path = write(tmp_path, ISSUE_EXAMPLE)
    policy = access(tmp_path, ISSUE_EXAMPLE, allowed_channels=OPS, user_rate="10/day")
    assert policy.describe() == (
        "retrains allowed for everyone (RETRAIN_ALLOWED_USERS and RETRAIN_ALLOWED_GROUPS empty)"
        f" in 1 channel; policy file {path}: 1 rule: `PROD*` (own user list, own channel list,"
        " protected, listed approvers, at most 200 epochs, no feedback=true);"
        " rate limit 10/day per user"
    )


def test_decision_refusal_needs_a_reason() -> None:
    """A refusal without a reason, or an allowed decision with one, cannot be built."""
    with pytest.raises(ValueError, match="refusal needs a reason"):
        Decision(allowed=False)
    with pytest.raises(ValueError, match="refusal needs a reason"):
        Decision(allowed=True, reason="fine")
