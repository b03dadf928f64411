"""app.json, Heroku's description of the app: its shape, and every setting described."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import AliasChoices

from bot.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
# Config vars Heroku sets itself: the add-ons (see their docs) and the platform.
SET_BY = {
    # The add-on sets EINSTEIN_VISION_*, which the settings read for their EINSTEIN_* names.
    "einstein-vision": {
        "EINSTEIN_VISION_URL",
        "EINSTEIN_VISION_ACCOUNT_ID",
        "EINSTEIN_VISION_PRIVATE_KEY",
        "EINSTEIN_API_URL",
        "EINSTEIN_ACCOUNT_ID",
        "EINSTEIN_PRIVATE_KEY",
    },
    "heroku-postgresql": {"DATABASE_URL"},
}
PLATFORM = {"PORT"}


@pytest.fixture(scope="module")
def app() -> dict[str, Any]:
    return json.loads((ROOT / "app.json").read_text())


def setting_names() -> dict[str, set[str]]:
    """Each setting's field name, with every environment variable that sets it."""
    names: dict[str, set[str]] = {}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names[name] = {str(choice) for choice in alias.choices}
        else:
            names[name] = {name.upper()}
    return names


def set_by_heroku(app: dict[str, Any]) -> set[str]:
    plans = [addon["plan"].split(":")[0] for addon in app["addons"]]
    return PLATFORM.union(*(SET_BY[plan] for plan in plans))


def readme_variables() -> set[str]:
    """The variables of the README's Configuration table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [row for row in section.splitlines() if row.startswith("| `")]
    # Variable names have an underscore; values such as `INFO` in the table do not.
    return {name for row in rows for name in re.findall(r"`([A-Z]+_[A-Z_]+)`", row)}


def test_shape(app: dict[str, Any]) -> None:
    """Name, description, buildpack, add-ons and env entries are as Heroku reads them."""
    assert app["name"]
    assert len(app["description"]) <= 140
    assert app["buildpacks"] == [{"url": "heroku/python"}]
    plans = {addon["plan"].split(":")[0] for addon in app["addons"]}
    assert plans == {"heroku-postgresql", "einstein-vision"}
    for name, entry in app["env"].items():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name), name
        assert set(entry) <= {"description", "value", "required", "generator"}, name
        assert isinstance(entry["description"], str), name
        assert entry["description"].strip(), name
        assert isinstance(entry["required"], bool), name
        assert isinstance(entry.get("value", ""), str), name


def test_formation_runs_the_procfile_on_an_awake_dyno(app: dict[str, Any]) -> None:
    """Every process type of the formation is in the Procfile, on a dyno that never sleeps."""
    procfile = (ROOT / "Procfile").read_text().splitlines()
    types = {line.split(":", 1)[0].strip() for line in procfile if ":" in line}
    for process, formation in app["formation"].items():
        assert process in types, process
        assert formation["quantity"] >= 1
        assert formation["size"].lower() != "eco", "Eco dynos sleep: trainings stop being followed"


def test_python_buildpack_finds_the_project() -> None:
    """The buildpack installs requirements.txt, which installs the project itself."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    assert [line for line in lines if line and not line.startswith("#")] == ["."]
    assert (ROOT / ".python-version").read_text().strip() == "3.11"


def test_every_setting_is_described(app: dict[str, Any]) -> None:
    """Each setting is an app.json config var, or set by an add-on or the platform."""
    provided = set(app["env"]) | set_by_heroku(app)
    missing = [sorted(names)[0] for names in setting_names().values() if not names & provided]
    assert not missing


def test_matches_the_readme(app: dict[str, Any]) -> None:
    """app.json and the README's Configuration table name the same variables."""
    documented = readme_variables()
    assert set(app["env"]) <= documented
    assert documented - set(app["env"]) <= set_by_heroku(app)


def test_values_are_the_defaults(app: dict[str, Any]) -> None:
    """The form's values, and optional vars left empty, give the settings' defaults."""
    values = {
        name.lower(): entry.get("value", "")
        for name, entry in app["env"].items()
        if name.lower() in Settings.model_fields
    }
    assert load_settings(_env_file=None, **values) == Settings(_env_file=None)
