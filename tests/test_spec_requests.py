"""What the client sends validates against Salesforce's OpenAPI spec (request bodies and paths).

Multipart and form fields travel as text; each is read back as the type its schema declares
(`trainParams` is a JSON string holding a `V2LanguageTrainParams` object) before validation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from bot.einstein.auth import StaticTokenSource
from bot.einstein.client import EinsteinClient
from bot.fakes.einstein.simulator import EinsteinSimulator
from tests.conftest import Stack

SPEC_PATH = Path(__file__).parent / "spec" / "einstein-openapi-2.0.1.yaml"
MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    # Salesforce publishes the file in Windows-1252.
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_bytes().decode("cp1252"))
    return loaded


def _resolve(node: Any, spec: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _resolve(spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]], spec)
        return {k: _resolve(v, spec) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, spec) for v in node]
    return node


def _typed(form: dict[str, str], schema: dict[str, Any]) -> dict[str, Any]:
    """Form text read as the declared types (an unparseable value stays text and fails)."""
    typed: dict[str, Any] = {}
    for name, raw in form.items():
        declared = schema.get("properties", {}).get(name, {})
        kind = declared.get("type")
        try:
            if kind == "integer":
                typed[name] = int(raw)
            elif kind == "number":
                typed[name] = float(raw)
            elif kind == "object" or "properties" in declared:
                typed[name] = json.loads(raw)
            else:
                typed[name] = raw
        except ValueError:
            typed[name] = raw
    return typed


def _request_schema(spec: dict[str, Any], path: str, content: str) -> dict[str, Any]:
    body = spec["paths"][path]["post"]["requestBody"]["content"][content]["schema"]
    return dict(_resolve(body, spec))


def _path_template_matches(spec: dict[str, Any], method: str, path: str) -> bool:
    for template, operations in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return True
    return False


@pytest.mark.parametrize(
    "options",
    [
        "",
        "split=0.7 feedback=true",
        "epochs=50 algorithm=multilingual-intent-ood global=42",
        "lr=0.001 feedback=no",
    ],
)
async def test_requests_conform_to_the_spec(
    stack: Stack, spec: dict[str, Any], options: str
) -> None:
    """Retrain, token, status, metrics and learning-curve requests follow the spec."""
    stack.simulator.add_model(MODEL)
    await stack.command(f"{MODEL} {options}")
    await stack.wait_final()
    retrain_schema = _request_schema(spec, "/v2/language/retrain", "multipart/form-data")
    token_schema = _request_schema(spec, "/v2/oauth2/token", "application/x-www-form-urlencoded")
    [retrain] = stack.simulator.calls("retrain")
    assert retrain.content_type == "multipart/form-data"
    assert retrain.form is not None
    body = _typed(retrain.form, retrain_schema)
    OAS30Validator(retrain_schema).validate(body)
    assert set(body) <= set(retrain_schema["properties"]), "no field the spec does not know"
    for token in stack.simulator.calls("generateTokenV2"):
        assert token.content_type == "application/x-www-form-urlencoded"
        assert token.form is not None
        OAS30Validator(token_schema).validate(_typed(token.form, token_schema))
    for request in stack.simulator.requests:
        assert _path_template_matches(spec, request.method, request.path), request.path
        if request.operation != "generateTokenV2":
            assert request.headers["Authorization"].startswith("Bearer ")


async def test_feedback_requests_conform_to_the_spec(spec: dict[str, Any]) -> None:
    """The dataset, examples and feedback requests follow the spec: paths, query, form fields."""
    sim = EinsteinSimulator()
    model_id = sim.add_model(MODEL)
    base_url = await sim.start()
    try:
        async with aiohttp.ClientSession() as session:
            client = EinsteinClient(
                base_url=base_url, tokens=StaticTokenSource(sim.issue_token()), session=session
            )
            dataset_id = await client.dataset_id(model_id)
            labels = (await client.dataset(dataset_id)).labels
            await client.add_feedback(
                model_id, document="where is it?", expected_label=labels[0], name="from Slack"
            )
            assert await client.feedback_count(dataset_id) == 1
    finally:
        await sim.stop()
    schema = _request_schema(spec, "/v2/language/feedback", "multipart/form-data")
    [feedback] = sim.calls("provideFeedback")
    assert feedback.content_type == "multipart/form-data"
    assert feedback.form is not None
    OAS30Validator(schema).validate(_typed(feedback.form, schema))
    assert set(feedback.form) == set(schema["properties"])
    [examples] = sim.calls("getExamples")
    declared = spec["paths"]["/v2/language/datasets/{datasetId}/examples"]["get"]["parameters"]
    query = {p["name"]: p["schema"] for p in declared if p["in"] == "query"}
    assert set(examples.query) <= set(query)
    for name, value in examples.query.items():
        OAS30Validator(query[name]).validate(value)
    for request in sim.requests:
        assert _path_template_matches(spec, request.method, request.path), request.path
