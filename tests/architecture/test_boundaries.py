"""Structure rules: domain core is HTTP-free, other domains are used only through their public surface."""

import ast
from pathlib import Path

import depotflow
from depotflow.core.errors import all_error_classes
from depotflow.core.settings import Settings
from depotflow.main import create_app

SRC = Path(depotflow.__file__).resolve().parent
DOMAINS = SRC / "domains"
CORE_MODULES = ("models", "schemas", "repository", "service", "policy", "tasks", "errors", "permissions", "chain")
PUBLIC_SURFACE = {"service", "schemas", "errors", "events", "enums", "permissions", "models"}
HTTP_PACKAGES = ("fastapi", "starlette", "depotflow.web")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _core_files(domain: Path) -> list[Path]:
    files = []
    for name in CORE_MODULES:
        if (domain / f"{name}.py").exists():
            files.append(domain / f"{name}.py")
        if (domain / name).is_dir():
            files.extend(sorted((domain / name).glob("*.py")))
    return files


def test_domain_core_does_not_import_http_frameworks() -> None:
    offenders = [
        f"{path.relative_to(SRC)} imports {name}"
        for domain in DOMAINS.iterdir()
        if domain.is_dir() and not domain.name.startswith("_")
        for path in _core_files(domain)
        for name in _imports(path)
        if name.startswith(HTTP_PACKAGES)
    ]

    assert offenders == []


def test_other_domains_are_imported_only_through_their_public_surface() -> None:
    offenders = []
    for path in DOMAINS.rglob("*.py"):
        own = path.relative_to(DOMAINS).parts[0]
        for name in _imports(path):
            parts = name.split(".")
            if parts[:2] != ["depotflow", "domains"] or len(parts) < 4 or parts[2] == own:
                continue
            if parts[3] not in PUBLIC_SURFACE:
                offenders.append(f"{path.relative_to(SRC)} imports {name}")

    assert offenders == []


def test_core_knows_no_domain() -> None:
    offenders = [
        f"{path.relative_to(SRC)} imports {name}"
        for package in ("core", "web")
        for path in (SRC / package).rglob("*.py")
        for name in _imports(path)
        if name.startswith("depotflow.domains")
    ]

    assert offenders == []


def test_no_legacy_session_query() -> None:
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if "session.query(" in p.read_text()]

    assert offenders == []


def test_every_domain_has_the_standard_anatomy() -> None:
    required = {"__init__.py", "models.py", "schemas.py", "repository.py", "errors.py", "permissions.py", "router.py"}
    missing = {}
    for domain in DOMAINS.iterdir():
        if not domain.is_dir() or domain.name.startswith("_"):
            continue
        present = {p.name for p in domain.iterdir()}
        has_service = "service.py" in present or (domain / "service" / "__init__.py").exists()
        lacking = sorted(required - present) + ([] if has_service else ["service"])
        if lacking:
            missing[domain.name] = lacking

    assert missing == {}


def test_error_codes_are_unique_and_namespaced() -> None:
    create_app(Settings(env="test"))  # imports every router, service and error module
    codes: dict[str, str] = {}
    duplicates = []
    for cls in all_error_classes():
        if cls.__dict__.get("code") is None:
            continue
        if cls.code in codes:
            duplicates.append((cls.code, codes[cls.code], cls.__qualname__))
        codes[cls.code] = cls.__qualname__
        module = cls.__module__
        if module.startswith("depotflow.domains."):
            assert "." in cls.code, f"{cls.__qualname__} code {cls.code!r} is not namespaced"

    assert duplicates == []
