"""Dependencies run one way: directory ← referrals ← hrm ← ops, sandbox, and inside hrm models ←
senders, receivers, reports ← delivery. Referrals and directory import nothing from hrm (a posted
message reaches HRM through a delivery channel named in settings, the pages get HRM's parts
through its template tags and channel). Checked on the source itself."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOWER_APPS = ["referrals", "directory"]
HRM_MODULE = re.compile(r"hrm(\.\w+)*")


def hrm_imports(source: str) -> list[str]:
    """Every hrm module the source imports, at the top or inside a function, or names as a
    dotted path in a string (what ``import_string`` or ``import_module`` would load)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if HRM_MODULE.fullmatch(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found += [node.module] if HRM_MODULE.fullmatch(node.module or "") else []
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += [node.value] if HRM_MODULE.fullmatch(node.value) and "." in node.value else []
    return found


def test_the_check_finds_every_way_of_importing_hrm():
    source = (
        "import hrm\nimport os, hrm.delivery.tasks as tasks\nfrom hrm.models import HrmReport\n"
        "def f():\n    from hrm import channel\n"
        "    return import_string('hrm.channel.HrmChannel')\n"
        "from .hrm import x\nfrom hrmx import y\nlabel = 'hrm'\n"
    )
    assert hrm_imports(source) == [
        "hrm",
        "hrm.delivery.tasks",
        "hrm.models",
        "hrm",
        "hrm.channel.HrmChannel",
    ]


def test_referrals_and_directory_import_nothing_from_hrm():
    offenders = {}
    for app in LOWER_APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if found := hrm_imports(path.read_text()):
                offenders[relative] = found
    assert offenders == {}


def test_the_referral_pages_name_no_hrm_template_url_or_tag():
    for path in sorted((ROOT / "templates" / "referrals").rglob("*.html")):
        text = path.read_text()
        assert not re.search(r"['\"]hrm[_/]|load hrm", text), path.name


# --- The whole house: each app, and each of hrm's rooms, imports only what lies below it -------

# What each top-level package may import from the project (the sandbox and config sit on top and
# may import anything; tests and benchmarks are not part of the product).
APPS_BELOW = {
    # security is infrastructure (the admin's base among it): it imports no app, all may use it.
    "directory": {"security"},
    "security": set(),
    "audit": {"directory", "security"},
    "referrals": {"directory", "audit", "security"},
    "hrm": {"directory", "audit", "security", "referrals"},
    # Health, metrics, logs and error reports: reads hrm's tables for the metrics.
    "ops": {"directory", "audit", "security", "referrals", "hrm"},
}
PROJECT_PACKAGES = {*APPS_BELOW, "sandbox", "config"}
# hrm's rooms, and what each may import inside hrm (shared modules at hrm's top level, such as
# admin_bases and support_contacts, are open to every room).
HRM_ROOMS_BELOW = {
    "models": set(),
    "senders": {"models"},
    "receivers": {"models"},
    "reports": {"models"},
    "delivery": {"models", "senders", "receivers", "reports"},
}


def project_imports(path: Path) -> list[str]:
    modules = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.append(node.module)
        elif isinstance(node, ast.ImportFrom):
            modules.append(f"<relative import {'.' * node.level}{node.module or ''}>")
    return modules


def test_each_app_imports_only_the_apps_below_it():
    offenders = {}
    for app, below in APPS_BELOW.items():
        for path in sorted((ROOT / app).rglob("*.py")):
            above = {
                module
                for module in project_imports(path)
                if module.split(".")[0] in PROJECT_PACKAGES - below - {app}
            }
            if above:
                offenders[path.relative_to(ROOT).as_posix()] = sorted(above)
    assert offenders == {}


def _hrm_room(path: Path) -> str | None:
    parts = path.relative_to(ROOT / "hrm").parts
    room = parts[0].removesuffix(".py")
    return room if room in HRM_ROOMS_BELOW else None


def test_each_hrm_room_imports_only_the_rooms_below_it():
    offenders = {}
    for path in sorted((ROOT / "hrm").rglob("*.py")):
        room = _hrm_room(path)
        if room is None or "migrations" in path.parts:
            continue
        for module in project_imports(path):
            parts = [*module.split("."), ""]
            other_room = parts[0] == "hrm" and parts[1] in HRM_ROOMS_BELOW and parts[1] != room
            if module.startswith("<relative") or (
                other_room and parts[1] not in HRM_ROOMS_BELOW[room]
            ):
                offenders.setdefault(path.relative_to(ROOT).as_posix(), []).append(module)
    assert offenders == {}
