"""The delivery tests run against a server that takes each completed file away as soon as it
appears, as HRM's inbound folder does: "the file is already there" proves nothing to them."""

import pytest

from sandbox.sftp_server import SandboxSftpServer


@pytest.fixture
def sftp_server(tmp_path):
    with SandboxSftpServer(tmp_path / "hrm-sftp", consume=True) as server:
        yield server
