"""The HRM sandbox: local stand-ins for HRM's side of the wire and for a clinician's EMR, for the
demo, the tests and benchmarks. Not part of the product: only the demo and test settings install
it (config/settings/sandbox.py), it needs the ``sandbox`` extra (asyncssh), and no product code
imports it; it may import the product.

- ``sftp_server`` (with ``sftp_sessions``): an SFTP server on loopback in HRM's place, with fault
  switches (no Django, so benchmarks and the Django-free tests can use it);
- the Django app ``sandbox`` (label ``hrm_sandbox``, as when it lived in hrm/): an EMR that polls
  that server and files reports by the rules of Open-O, OSCAR or Juno (``profiles``, ``reading``,
  ``rules``, ``services``), its inbox pages, ``manage.py hrm_sandbox`` to run both, and
  ``manage.py seed_demo``, the demo's data.
"""
