"""The HRM sandbox: local stand-ins for HRM's side of the wire and for a clinician's EMR, for the
demo, the tests and benchmarks. Nothing here is used on a production delivery path.

- ``sftp_server``: an SFTP server on loopback in HRM's place, with fault switches (no Django, so
  benchmarks and the Django-free tests can use it);
- the Django app ``hrm_sandbox``: an EMR that polls that server and files reports by the rules of
  Open-O, OSCAR or Juno (``profiles``, ``reading``, ``rules``, ``services``), its inbox pages, and
  ``manage.py hrm_sandbox`` to run both.
"""
