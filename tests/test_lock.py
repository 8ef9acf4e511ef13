"""The hashed lock files agree with pyproject.toml: every pin there is locked at its version, and
the product's lock (the Dockerfile's) holds exactly the versions of the lock scripts/setup.sh
installs, so the image runs what the tests ran."""

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked(lock: str) -> dict[str, str]:
    text = (REPO / "requirements" / lock).read_text()
    entries = re.split(r"\n(?=\S)", text)
    pins = {}
    for entry in entries:
        if entry.startswith("#") or not entry.strip():
            continue
        match = PIN.match(entry)
        assert match, f"{lock}: an entry without an exact pin: {entry.splitlines()[0]}"
        assert "--hash=sha256:" in entry, f"{lock}: {match[1]} has no hash"
        pins[_name(match[1])] = match[2]
    return pins


def _declared() -> dict[str, dict[str, str]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    groups = {"product": project["dependencies"], **project["optional-dependencies"]}
    return {
        group: {_name(m[1]): m[2] for m in (PIN.match(r) for r in requirements) if m}
        for group, requirements in groups.items()
    }


def test_every_pin_in_pyproject_is_locked_at_its_version():
    declared = _declared()
    locks = {
        "product.txt": declared["product"],
        "dev.txt": {**declared["product"], **declared["dev"], **declared["sandbox"]},
        "bench.txt": {k: v for group in declared.values() for k, v in group.items()},
    }
    for lock, pins in locks.items():
        locked = _locked(lock)
        stale = {
            name: (version, locked.get(name))
            for name, version in pins.items()
            if locked.get(name) != version
        }
        assert not stale, f"{lock} is stale (pyproject, lock): {stale}; run bash scripts/lock.sh"


def test_the_products_lock_has_the_versions_the_tests_run():
    product, dev = _locked("product.txt"), _locked("dev.txt")
    assert {name: dev.get(name) for name in product} == product
    assert dev.items() <= _locked("bench.txt").items()
