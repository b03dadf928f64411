"""Policy-file rules that name workspaces (`teams:`): loading, matching, combining, summary."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from bot.access import AccessPolicy, Decision, load_policy
from bot.core.options import RetrainOptions
from tests.test_policy import ALICE, BOB, CAROL, OPS, access, policy_error, write

T1 = "T0001AAAA"
T2 = "T0002BBBB"
T3 = "T0003CCCC"
ORG = "E0100ORGA"
SECRET_CHANNEL = "C0SECRET1"
PROD = "PROD7JXCXTRXTMNLJCEF2DR5C"
PLAIN = "7JXCXTRXTMNLJCEF2DR5CJ46QU"

# Each of two workspaces has its own rule for the same models; the org's workspaces a third.
PER_WORKSPACE = f"""\
models:
  - match: "PROD*"
    teams: [{T1}]
    allow_users: [{ALICE}]
    allow_channels: [{SECRET_CHANNEL}]
  - match: "PROD*"
    teams: [{T2}]
    allow_users: [{BOB}]
  - match: "PROD*"
    teams: [{ORG}]
    max_epochs: 10
"""


def decide(
    policy: AccessPolicy,
    *,
    team: str | None,
    enterprise: str | None = None,
    user: str = ALICE,
    channel: str = OPS,
    model: str = PROD,
    **options: Any,
) -> Decision:
    return policy.decide(
        user=user,
        user_groups=frozenset(),
        channel=channel,
        model_id=model,
        options=RetrainOptions(**options),
        team_id=team,
        enterprise_id=enterprise,
    )


# --- loading ----------------------------------------------------------------------------------


def test_teams_load_with_the_rule(tmp_path: Path) -> None:
    """`teams:` holds workspace and org IDs; a rule without it holds everywhere."""
    scoped, everywhere = load_policy(
        write(tmp_path, f'models:\n  - match: "PROD*"\n    teams: [{T1}, {ORG}]\n  - match: "*"\n')
    ).rules
    assert scoped.teams == frozenset({T1, ORG})
    assert everywhere.teams is None


@pytest.mark.parametrize(
    ("teams", "message"),
    [
        pytest.param(
            f"[{T1}, t0002bbbb]",
            "line 3: models[0].teams[1]: must be a workspace or Enterprise Grid org ID like"
            " T0123ABCD (T or E, then capital letters and digits); Slack IDs are upper case",
            id="lower case",
        ),
        pytest.param(
            f"[{OPS}]",
            "line 3: models[0].teams[0]: must be a workspace or Enterprise Grid org ID like"
            " T0123ABCD (T or E, then capital letters and digits), not a channel ID",
            id="channel ID",
        ),
        pytest.param(
            "[acme.slack.com]",
            "line 3: models[0].teams[0]: must be a workspace or Enterprise Grid org ID like"
            " T0123ABCD (T or E, then capital letters and digits)",
            id="domain",
        ),
        pytest.param(
            "[]",
            "line 3: models[0].teams: must list at least one workspace (T…) or Enterprise Grid"
            " org (E…) ID; leave the key out for a rule that holds in every workspace",
            id="empty list",
        ),
        pytest.param(
            "",
            "line 3: models[0].teams: has no value; give one or leave the key out",
            id="no value",
        ),
        pytest.param(
            T1,
            "line 3: models[0].teams: must be a list like [T0123ABCD, E0456EFGH], not text",
            id="not a list",
        ),
    ],
)
def test_bad_teams_name_their_line(tmp_path: Path, teams: str, message: str) -> None:
    """A workspace list that is empty, not a list or holds anything but T…/E… IDs is refused."""
    text = f'models:\n  - match: "PROD*"\n    teams: {teams}\n'
    assert policy_error(tmp_path, text) == message


def test_misspelt_teams_key_is_guessed(tmp_path: Path) -> None:
    """`team:` is an unknown key, and the error suggests `teams`."""
    text = f'models:\n  - match: "PROD*"\n    team: [{T1}]\n'
    assert policy_error(tmp_path, text) == (
        "line 3: models[0].team: unknown key; did you mean `teams`?"
    )


@pytest.mark.parametrize(
    "rules",
    [
        pytest.param([f"teams: [{T1}]", f"teams: [{T2}]"], id="one rule per workspace"),
        pytest.param([f"teams: [{T1}]", ""], id="everywhere else after one workspace"),
        pytest.param([f"teams: [{ORG}]", f"teams: [{T1}]"], id="a workspace after an org"),
        pytest.param([f"teams: [{T1}]", f"teams: [{T1}, {T2}]"], id="more workspaces"),
    ],
)
def test_same_glob_in_other_workspaces_is_not_dead(tmp_path: Path, rules: list[str]) -> None:
    """A later rule for the same models lives if it holds somewhere the earlier one does not."""
    text = "models:\n" + "".join(f'  - match: "PROD*"\n    {keys}\n' for keys in rules)
    assert len(load_policy(write(tmp_path, text)).rules) == 2


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("", f"teams: [{T1}]", id="after a rule for every workspace"),
        pytest.param(f"teams: [{T1}, {T2}]", f"teams: [{T2}]", id="after one for more"),
    ],
)
def test_rule_that_never_applies_in_its_workspaces_is_refused(
    tmp_path: Path, first: str, second: str
) -> None:
    """A rule whose every workspace an earlier rule with the same glob already holds in is dead."""
    text = f'models:\n  - match: "PROD*"\n    {first}\n  - match: "PROD*"\n    {second}\n'
    assert policy_error(tmp_path, text) == (
        "line 4: models[1].match: `PROD*` never applies: rule 1 (`PROD*`) matches those models"
        " first in the workspaces this rule names"
    )


# --- matching ---------------------------------------------------------------------------------


@pytest.fixture
def per_workspace(tmp_path: Path) -> AccessPolicy:
    return access(tmp_path, PER_WORKSPACE)


def test_each_workspace_gets_its_own_rule(per_workspace: AccessPolicy) -> None:
    """Two rules for the same models: T1's people pass in T1, T2's in T2, not the other way."""
    assert decide(per_workspace, team=T1, channel=SECRET_CHANNEL, user=ALICE).allowed
    assert decide(per_workspace, team=T2, user=BOB).allowed
    refused = decide(per_workspace, team=T2, user=ALICE)
    assert refused.rule is not None
    assert refused.rule.number == 2
    assert refused.reason is not None
    assert "policy file rule 2, line 6" in refused.reason


def test_an_org_rule_holds_in_every_workspace_of_the_org(per_workspace: AccessPolicy) -> None:
    """A rule naming an Enterprise Grid org applies to any of its workspaces."""
    decision = decide(per_workspace, team=T3, enterprise=ORG, user=CAROL, epochs=50)
    assert decision.rule is not None
    assert decision.rule.number == 3
    assert decision.reason is not None
    assert "at most 10 epochs" in decision.reason
    assert decide(per_workspace, team=T3, enterprise=ORG, user=CAROL, epochs=5).allowed


def test_a_workspace_rule_comes_first_when_listed_first(per_workspace: AccessPolicy) -> None:
    """A workspace of the org with its own earlier rule gets that one: the first match wins."""
    decision = decide(per_workspace, team=T2, enterprise=ORG, user=BOB, epochs=50)
    assert decision.allowed
    assert decision.rule is not None
    assert decision.rule.number == 2


def test_model_closed_in_an_unnamed_workspace_says_so_plainly(per_workspace: AccessPolicy) -> None:
    """Only other workspaces' rules name the model: refused, naming none of them."""
    decision = decide(per_workspace, team=T3, user=ALICE, channel=SECRET_CHANNEL)
    assert decision == Decision.deny(
        f"No rule of the policy file lets this model be retrained from this workspace (`{T3}`);"
        " its rules for it name other workspaces. Whoever keeps the policy file can add this"
        " workspace to one of them, or add a rule for every workspace."
    )
    assert decision.reason is not None
    for other_workspaces in (SECRET_CHANNEL, "PROD*", "rule 1", T1, T2, ORG):
        assert other_workspaces not in decision.reason


def test_unknown_workspace_is_refused_where_only_scoped_rules_match(
    per_workspace: AccessPolicy,
) -> None:
    """A request whose workspace is unknown holds for no scoped rule, and hears why."""
    reason = decide(per_workspace, team=None).reason
    assert reason is not None
    assert "cannot tell which workspace" in reason


def test_models_no_rule_names_use_the_global_lists_everywhere(tmp_path: Path) -> None:
    """Scoped rules close only the models they match; others follow the global lists."""
    policy = access(tmp_path, PER_WORKSPACE, allowed_users=ALICE)
    for team in (T1, T3, None):
        assert decide(policy, team=team, model=PLAIN).allowed
        assert decide(policy, team=team, model=PLAIN, user=BOB).reason == (
            "You are not on the allow list for retrains (RETRAIN_ALLOWED_USERS); whoever runs"
            " the bot can add you or one of your user groups."
        )


def test_a_rule_for_every_workspace_after_scoped_ones_opens_the_rest(tmp_path: Path) -> None:
    """An unscoped rule after the scoped ones takes the workspaces they leave out."""
    policy = access(tmp_path, PER_WORKSPACE + '  - match: "PROD*"\n')
    decision = decide(policy, team=T3, user=CAROL)
    assert decision.allowed
    assert decision.rule is not None
    assert decision.rule.number == 4


def test_global_lists_hold_in_a_scoped_rules_workspace(tmp_path: Path) -> None:
    """What a scoped rule leaves out falls back to RETRAIN_ALLOWED_*, in its workspace too."""
    policy = access(tmp_path, PER_WORKSPACE, allowed_channels=OPS)
    assert decide(policy, team=T2, user=BOB, channel=OPS).allowed
    decision = decide(policy, team=T2, user=BOB, channel=SECRET_CHANNEL)
    assert decision.reason is not None
    assert "RETRAIN_ALLOWED_CHANNELS" in decision.reason


def test_closed_model_needs_no_group_lookup(tmp_path: Path) -> None:
    """Where nobody may retrain a model, nobody's groups are asked for, and nobody passes."""
    text = f'models:\n  - match: "PROD*"\n    teams: [{T1}]\n    allow_groups: [S0456EFGH]\n'
    policy = access(tmp_path, text)
    where = {"team_id": T1, "enterprise_id": None}
    assert policy.groups_needed(PROD, user=ALICE, **where)
    assert policy.groups_for(PROD, **where) == frozenset({"S0456EFGH"})
    elsewhere = {"team_id": T2, "enterprise_id": None}
    assert not policy.groups_needed(PROD, user=ALICE, **elsewhere)
    assert policy.groups_for(PROD, **elsewhere) == frozenset()
    everyone = frozenset({"S0456EFGH"})
    assert policy.admits(user=ALICE, user_groups=everyone, model_id=PROD, **where)
    assert not policy.admits(user=ALICE, user_groups=everyone, model_id=PROD, **elsewhere)


# --- summary ----------------------------------------------------------------------------------


def test_describe_names_the_workspaces_of_scoped_rules(tmp_path: Path) -> None:
    """The start-up line says which rules hold where, and that the global lists hold everywhere."""
    text = textwrap.dedent(
        f"""\
        models:
          - match: "PROD*"
            teams: [{T2}, {ORG}]
            max_epochs: 10
          - match: "*"
        """
    )
    path = write(tmp_path, text)
    assert access(tmp_path, text, allowed_users=ALICE).describe() == (
        "retrains allowed for 1 user in any channel (RETRAIN_ALLOWED_CHANNELS empty), in every"
        f" workspace; policy file {path}: 2 rules (1 for named workspaces only): `PROD*` (at"
        f" most 10 epochs, only in {ORG}, {T2}), `*` (no limits); no rate limit"
    )


def test_readme_example_loads_and_reads_as_it_says(tmp_path: Path) -> None:
    """The README's `teams:` example loads; its comments say which rule holds where."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("- **Workspaces.**") :]
    start = section.index("      models:")
    example = textwrap.dedent(section[start : section.index("\n\n", start)])
    policy = access(tmp_path, example)
    protected, org, rest = policy.policy.rules
    assert protected.teams == frozenset({"T0123ABCD"})
    assert org.teams == frozenset({"E0456EFGH"})
    assert rest.teams is None
    assert policy.rule_for(PROD, team_id="T0123ABCD", enterprise_id="E0456EFGH") == protected
    assert policy.rule_for(PROD, team_id=T3, enterprise_id="E0456EFGH") == org
    assert policy.rule_for(PROD, team_id=T3) == rest
