"""The fake API server answers on the wire as the Kubernetes API does (what tierconf relies on)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from k8s_fake import FakeKubeAPI

NS = "demo"


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    """A fake with one namespace."""
    with FakeKubeAPI() as fake:
        fake.create_namespace(NS)
        yield fake


def call(
    api: FakeKubeAPI, method: str, path: str, body: Any = None, content_type: str = "application/json"
) -> tuple[int, dict[str, Any]]:
    """One raw HTTP request with the fake's token; (status, decoded JSON)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(api.url + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {api.token}")
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def apply(
    api: FakeKubeAPI,
    name: str,
    data: dict[str, str],
    manager: str,
    *,
    force: bool = False,
    dry_run: bool = False,
    labels: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """Server-side apply a ConfigMap."""
    query = f"?fieldManager={manager}" + ("&force=true" if force else "") + ("&dryRun=All" if dry_run else "")
    metadata: dict[str, Any] = {"name": name, **({"labels": labels} if labels else {})}
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}
    return call(
        api,
        "PATCH",
        f"/api/v1/namespaces/{NS}/configmaps/{name}{query}",
        body,
        "application/apply-patch+yaml",
    )


class TestFakeApiServer:
    """Status bodies, apply semantics and lists, as the API server returns them."""

    def test_not_found_is_a_status_body(self, api: FakeKubeAPI) -> None:
        """404: kind Status, apiVersion v1, status Failure, reason, details, code."""
        status, body = call(api, "GET", f"/api/v1/namespaces/{NS}/configmaps/missing")
        assert status == 404
        assert body == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'configmaps "missing" not found',
            "reason": "NotFound",
            "details": {"name": "missing", "kind": "configmaps"},
            "code": 404,
        }

    def test_apply_conflict_names_the_other_manager(self, api: FakeKubeAPI) -> None:
        """A changed value owned by an Update manager is a 409 worded as the API words it."""
        apply(api, "c", {"A": "1", "B": "1"}, "tierconf")
        api.edit("ConfigMap", NS, "c", {"data": {"A": "2", "B": "2"}}, manager="kubectl-edit")
        status, body = apply(api, "c", {"A": "3", "B": "3"}, "tierconf")
        assert status == 409 and body["reason"] == "Conflict"
        assert body["message"] == (
            'Apply failed with 2 conflicts: conflicts with "kubectl-edit" using v1:\n- .data.A\n- .data.B'
        )
        assert body["details"]["causes"][0] == {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "kubectl-edit" using v1',
            "field": ".data.A",
        }
        assert apply(api, "c", {"A": "3", "B": "3"}, "tierconf", force=True)[0] == 200

    def test_apply_ownership_and_resource_versions(self, api: FakeKubeAPI) -> None:
        """Fields a manager stops applying go; a no-op apply writes nothing; dry run keeps nothing."""
        _, first = apply(api, "c", {"A": "1", "B": "1"}, "tierconf")
        _, same = apply(api, "c", {"A": "1", "B": "1"}, "tierconf")
        assert same["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        _, dropped = apply(api, "c", {"A": "1"}, "tierconf")
        assert dropped["data"] == {"A": "1"}
        assert int(dropped["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
        assert dropped["metadata"]["managedFields"][0]["fieldsV1"] == {"f:data": {"f:A": {}}}
        apply(api, "c", {"A": "9"}, "tierconf", dry_run=True)
        assert api.get("ConfigMap", NS, "c")["data"] == {"A": "1"}  # type: ignore[index]

    def test_lists_filter_by_selector_and_omit_item_kinds(self, api: FakeKubeAPI) -> None:
        """labelSelector supports =, !key and in; items carry no kind or apiVersion."""
        apply(api, "a", {}, "m", labels={"tier": "dev"})
        apply(api, "b", {}, "m", labels={"tier": "dev", "tenant": "acme"})
        apply(api, "c", {}, "m", labels={"tier": "prod"})
        _, listed = call(
            api, "GET", f"/api/v1/namespaces/{NS}/configmaps?labelSelector=tier%3Ddev%2C%21tenant"
        )
        assert listed["kind"] == "ConfigMapList" and [i["metadata"]["name"] for i in listed["items"]] == ["a"]
        assert "kind" not in listed["items"][0] and "apiVersion" not in listed["items"][0]
        _, both = call(
            api, "GET", f"/api/v1/namespaces/{NS}/configmaps?labelSelector=tier%20in%20%28dev%2Cprod%29"
        )
        assert len(both["items"]) == 3

    def test_unauthenticated_and_missing_namespace(self, api: FakeKubeAPI) -> None:
        """Without the bearer token: 401; applying into a missing namespace: 404 naming it."""
        request = urllib.request.Request(api.url + "/api/v1/namespaces")
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request)
        caught.value.close()
        assert caught.value.code == 401
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
        status, answer = call(
            api,
            "PATCH",
            "/api/v1/namespaces/nope/configmaps/x?fieldManager=m",
            body,
            "application/apply-patch+yaml",
        )
        assert status == 404 and answer["message"] == 'namespaces "nope" not found'
