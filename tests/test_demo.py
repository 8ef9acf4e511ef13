"""`scripts/demo.sh` as a newcomer runs it, on a port of its own and in a folder of its own
(DEMO_DIR), checked the way they would check it: the mail is in the folder the demo names, with
links to the demo's port; the demo's tasks go through a broker of its own; a wrong address shows
the product's 404 page; the sandbox's log names no patient; Ctrl+C stops everything."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .processes import _free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
# The demo's patients (sandbox/management/commands/seed_demo.py): names and health card numbers.
PATIENT_DATA = re.compile(
    r"Tremblay|Hélène|Bélanger|Côté|Olivia|\bChen\b|\bWei\b"
    r"|9876543217|1234567897|2345678904|4532015114"
)
# Generous: the machine is shared, and the demo migrates a new database and collects static files.
STARTUP_SECONDS = 300


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (loopback)
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def demo(tmp_path):
    """The demo running in ``tmp_path/demo``, with none of the test run's settings (no broker, no
    database, no EMAIL_URL): what a newcomer's shell has."""
    port = _free_port()
    folder = tmp_path / "demo"
    bare = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    environment = {
        **bare,
        "PORT": str(port),
        "DEMO_DIR": str(folder),
        "HRM_SANDBOX_PORT": "0",
        "HRM_SANDBOX_POLL_SECONDS": "1",
    }
    output = tmp_path / "demo.out"
    with output.open("w") as stream:
        process = subprocess.Popen(
            ["bash", "scripts/demo.sh"],
            cwd=ROOT,
            env=environment,
            stdout=stream,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(
            lambda: "Press Ctrl+C to stop." in output.read_text() and answers(port),
            timeout=STARTUP_SECONDS,
            interval=0.5,
            message=f"the demo to serve on port {port}",
        )
        yield process, port, folder, output
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(90)
        if group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)


def test_the_demo_keeps_its_mail_links_broker_and_logs_to_itself(demo):
    process, port, folder, output = demo
    site = f"http://127.0.0.1:{port}"
    text = output.read_text()
    assert f"eReferral demo: {site}/" in text
    assert f"HRM sandbox EMR inbox: {site}/sandbox/emr/" in text

    # The seeded messages' notification emails, in the folder the demo names, linking to its port.
    mails = sorted((folder / "mail").glob("*.log"))
    assert mails, "no email in the demo's mail folder"
    bodies = "\n".join(path.read_text() for path in mails)
    assert f"{site}/referrals/" in bodies
    assert ":8000" not in bodies

    # Its own broker: a Redis on a Unix socket only the demo's user may open.
    [broker] = re.findall(r"Broker: redis\+socket://(\S+)", text)
    socket_path = Path(broker)
    assert socket_path.is_socket() and oct(socket_path.stat().st_mode & 0o777) == "0o700"

    # The worker delivered through it: the sandbox EMR filed Dr. Lee's letter to Dr. Nguyen.
    sandbox_log = folder / "hrm-sandbox.log"
    wait_for(
        lambda: "Filed " in sandbox_log.read_text(),
        timeout=120,
        interval=0.5,
        message="the sandbox to file a report delivered by the demo's worker",
    )
    assert f"Sandbox EMR inbox: {site}/sandbox/emr/" in sandbox_log.read_text()
    keys = subprocess.run(
        ["redis-cli", "-s", broker, "--scan"], capture_output=True, text=True, timeout=30
    ).stdout.split()
    assert "_kombu.binding.hrm" in keys

    # A stranger's wrong address: the product's page, not Django's list of URL patterns.
    status, content_type, body = get(f"{site}/no-such-page/")
    page = body.decode()
    assert status == 404 and "<h1>Page not found</h1>" in page
    assert "URLconf" not in page and "DEBUG = True" not in page
    status, content_type, body = get(f"{site}/static/css/app.css")
    assert status == 200 and "text/css" in content_type
    status, content_type, body = get(f"{site}/favicon.ico")
    assert status == 200 and content_type == "image/x-icon" and body[:4] == b"\x00\x00\x01\x00"

    # No patient in any log the demo writes.
    for log in [output, *folder.glob("*.log")]:
        found = PATIENT_DATA.findall(log.read_text())
        assert not found, f"{log.name} names patients: {sorted(set(found))}"

    # Ctrl+C (SIGINT to the demo's foreground process group, as a terminal sends it): all stops,
    # the demo's own Redis included.
    os.killpg(process.pid, signal.SIGINT)
    process.wait(90)
    wait_for(lambda: not group_alive(process.pid), timeout=60, message="every demo process to stop")
    assert not socket_path.exists() and not socket_path.parent.exists()
    assert not answers(port)
