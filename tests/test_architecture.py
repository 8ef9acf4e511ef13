"""Dependencies run one way: directory ← referrals ← hrm. Referrals and directory import nothing
from hrm (a posted message reaches HRM through a delivery channel named in settings, the pages
get HRM's parts through its template tags and channel), checked on the source itself."""

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
        "import hrm\nimport os, hrm.tasks as tasks\nfrom hrm.models import HrmReport\n"
        "def f():\n    from hrm import channel\n"
        "    return import_string('hrm.channel.HrmChannel')\n"
        "from .hrm import x\nfrom hrmx import y\nlabel = 'hrm'\n"
    )
    assert hrm_imports(source) == [
        "hrm",
        "hrm.tasks",
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
