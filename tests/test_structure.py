"""The architecture and packaging rules in DESIGN.md and STYLE.md, checked on the source tree."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol
from homeassistant.data_entry_flow import section

from custom_components.hold_slayer.config_flow import _account_schema, _trunk_schema
from custom_components.hold_slayer.options import build_options_schema

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "custom_components" / "hold_slayer"
CORE_PACKAGES = ("audio", "ivr", "session", "telephony", "demo", "voice")
TRANSLATIONS = json.loads((PACKAGE / "translations" / "en.json").read_text())
MANIFEST = json.loads((PACKAGE / "manifest.json").read_text())


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_packages_do_not_import_home_assistant() -> None:
    """audio/, ivr/, session/, telephony/ and demo/ run headless: no homeassistant imports."""
    offenders = [
        str(path.relative_to(ROOT))
        for package in CORE_PACKAGES
        for path in (PACKAGE / package).rglob("*.py")
        if any(name.split(".")[0] == "homeassistant" for name in _imports(path))
    ]
    assert offenders == []


def _sibling_imports(path: Path) -> set[str]:
    """Modules of the same package ``path`` imports (``from .x import``, type-only ones too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                names.add(node.module.split(".")[0])
            else:
                names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("package", CORE_PACKAGES)
def test_no_import_cycles_inside_a_core_package(package: str) -> None:
    """Modules of a core package import each other one way only (type-only imports count too)."""
    modules = {path.stem: path for path in (PACKAGE / package).glob("*.py")}
    graph = {name: _sibling_imports(path) & modules.keys() for name, path in modules.items()}
    cycles: list[list[str]] = []

    def visit(name: str, trail: list[str]) -> None:
        for imported in sorted(graph[name]):
            if imported in trail:
                cycles.append([*trail[trail.index(imported) :], imported])
            elif len(trail) < len(modules):
                visit(imported, [*trail, imported])

    for start in sorted(modules):
        visit(start, [start])
    assert cycles == []


def test_only_the_engine_imports_the_sip_library() -> None:
    """One module imports the SIP library (rfcvoip)."""
    importers = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(name.split(".")[0] == "rfcvoip" for name in _imports(path))
    )
    assert importers == ["telephony/auth.py"]


def test_only_one_module_imports_openai() -> None:
    """One module imports ``openai`` (the OpenAI-compatible endpoint)."""
    importers = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(name.split(".")[0] == "openai" for name in _imports(path))
    )
    assert importers == ["openai_endpoint.py"]


# What each top-level package may not import: the shared parts live in harness/, which tests,
# tools and benchmarks import, and none of them imports another (nor harness any of them).
FORBIDDEN_IMPORTS = {
    "tests": {"tools", "bench"},
    "tools": {"tests", "bench"},
    "bench": {"tests", "tools"},
    "harness": {"tests", "tools", "bench"},
}


def test_tests_tools_and_benchmarks_share_only_the_harness() -> None:
    """tests/, tools/ and bench/ never import one another; harness/ imports none of them."""
    offenders = sorted(
        f"{path.relative_to(ROOT)} imports {name}"
        for package, forbidden in FORBIDDEN_IMPORTS.items()
        for path in (ROOT / package).rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in forbidden
    )
    assert offenders == []


def test_manifest() -> None:
    """Our own requirements pinned exactly; packages HA or its integrations pin only bounded below."""
    assert MANIFEST["domain"] == "hold_slayer"
    assert MANIFEST["config_flow"] is True
    assert MANIFEST["iot_class"] == "local_push"
    assert "http" in MANIFEST["dependencies"]
    # dnspython: HA's DHCP discovery (aiodiscover) and rfcvoip need it too.
    pinned_by_ha = {"numpy", "aiohttp", "wyoming", "openai", "voluptuous", "audioop-lts", "dnspython"}
    for requirement in MANIFEST["requirements"]:
        name = re.split(r"[=><]", requirement)[0].lower()
        if name in pinned_by_ha:
            # An exact pin would fight the version HA's own integration (openai_conversation) pins.
            assert re.fullmatch(r"[A-Za-z0-9_.-]+>=[0-9][0-9A-Za-z.]*", requirement), requirement
        else:
            assert re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", requirement), requirement
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert hacs["homeassistant"] == "2025.4.0"


def _fields(schema: vol.Schema) -> dict[str, Any]:
    """Field name → nested field names (for sections) or None."""
    fields: dict[str, Any] = {}
    for key, value in schema.schema.items():
        fields[str(key)] = _fields(value.schema) if isinstance(value, section) else None
    return fields


def _assert_translated(step: dict[str, Any], fields: dict[str, Any], where: str) -> None:
    for name, nested in fields.items():
        if nested is None:
            assert step["data"].get(name), f"{where}: no label for {name}"
            assert step["data_description"].get(name), f"{where}: no data_description for {name}"
        else:
            _assert_translated(step["sections"][name], nested, f"{where}.{name}")


@pytest.mark.parametrize("step", ["sip_account", "reconfigure"])
def test_account_form_is_fully_translated(step: str) -> None:
    """Every account field has a label and a data_description."""
    _assert_translated(TRANSLATIONS["config"]["step"][step], _fields(_account_schema({})), step)


@pytest.mark.parametrize("step", ["sip_trunk", "reconfigure_trunk"])
def test_trunk_forms_are_fully_translated(step: str) -> None:
    _assert_translated(TRANSLATIONS["config"]["step"][step], _fields(_trunk_schema({})), step)


def test_first_step_menu_is_translated() -> None:
    """The first step offers an account, a trunk or the demo line; each option and the demo step have text."""
    steps = TRANSLATIONS["config"]["step"]
    assert set(steps["user"]["menu_options"]) == {"sip_account", "sip_trunk", "demo"}
    assert all(steps["user"]["menu_options"].values())
    assert steps["demo"]["title"]
    assert "Demo Bank" in steps["demo"]["description"]


def test_options_form_is_fully_translated() -> None:
    """Every option has a label and a data_description."""
    _assert_translated(TRANSLATIONS["options"]["step"]["init"], _fields(build_options_schema({})), "options")


def test_every_error_key_is_translated() -> None:
    """Each error and abort reason the flows can return has text."""
    source = "\n".join(p.read_text() for p in PACKAGE.glob("*.py"))
    keys = set(re.findall(r'"base": "(\w+)"', source)) | set(
        re.findall(r'"(invalid_\w+|openai_\w+_required)"', source)
    )
    keys |= {f"invalid_{field}" for field in ("host", "outbound_proxy", "sip_ports", "rtp_ports")}
    exceptions = set(re.findall(r'translation_domain=DOMAIN,\s*translation_key="(\w+)"', source))
    exceptions |= set(re.findall(r'_error\(\s*"(\w+)"', source))  # services.py's translated errors
    assert exceptions
    keys -= exceptions
    known = set(TRANSLATIONS["config"]["error"]) | set(TRANSLATIONS["options"]["error"])
    assert keys - known == set()
    reasons = set(re.findall(r'reason="(\w+)"', source)) | {"reauth_successful", "reconfigure_successful"}
    assert reasons - set(TRANSLATIONS["config"]["abort"]) == set()
    assert exceptions - set(TRANSLATIONS["exceptions"]) == set()
