"""Local stand-ins for HRM's side of the wire (an SFTP server on loopback), for tests, the
``hrm_sandbox`` command and benchmarks. Nothing here is used on a production delivery path."""
