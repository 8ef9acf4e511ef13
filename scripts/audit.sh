#!/usr/bin/env bash
# Check every package in the lock files against the known vulnerabilities, with pip-audit (pinned
# in the dev extra), which asks PyPI's JSON API about each pinned version. Exit status:
#   0  every package was checked and none has a known vulnerability;
#   1  a package has a known vulnerability (the list is printed): upgrade it in pyproject.toml
#      and run scripts/lock.sh;
#   2  some packages could not be checked (no answer from the vulnerability service, or it does
#      not know the version): nothing is known either way, and this says which.
# A package that was not checked is never counted as clean.
set -euo pipefail
cd "$(dirname "$0")/.."
report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
for lock in requirements/product.txt requirements/dev.txt requirements/bench.txt; do
  rm -f "$report"
  if ! .venv/bin/pip-audit --require-hashes --disable-pip --progress-spinner off --timeout 30 \
      -r "$lock" -f json -o "$report" >/dev/null 2>"$report.err" && [ ! -s "$report" ]; then
    echo "pip-audit could not audit $lock:"
    tail -n 3 "$report.err"
    rm -f "$report.err"
    [ "$status" = 1 ] || status=2
    continue
  fi
  rm -f "$report.err"
  lock_status=0
  .venv/bin/python - "$lock" "$report" <<'PY' || lock_status=$?
import json
import sys

lock, report = sys.argv[1], sys.argv[2]
dependencies = json.load(open(report))["dependencies"]
vulnerable = [d for d in dependencies if d.get("vulns")]
skipped = [d for d in dependencies if "skip_reason" in d]
for dependency in vulnerable:
    for vuln in dependency["vulns"]:
        fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
        print(f"{lock}: {dependency['name']} {dependency['version']}: {vuln['id']} (fixed in {fixed})")
checked = len(dependencies) - len(skipped)
print(f"{lock}: {checked} of {len(dependencies)} packages checked, {len(vulnerable)} vulnerable")
if skipped:
    print(f"  not checked ({len(skipped)}), e.g. {skipped[0]['skip_reason']}")
sys.exit(1 if vulnerable else 2 if skipped else 0)
PY
  if [ "$lock_status" = 1 ]; then
    status=1
  elif [ "$lock_status" != 0 ] && [ "$status" = 0 ]; then
    status=2
  fi
done
exit "$status"
