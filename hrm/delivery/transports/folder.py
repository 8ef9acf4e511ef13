"""A local folder with the same ``.part``-then-rename contract: the sandbox, tests, or a drop folder
another program sends from."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from hrm.delivery.transports import (
    PART_SUFFIX,
    Probe,
    StagingEach,
    TransportError,
    UploadResult,
    _check_remote_name,
    files_stage,
    promote_each,
    upload_in_one_go,
)
from hrm.error_classes import ErrorClass


class FolderTransport:
    """Uploads into a local directory with the same ``.part``-then-rename contract."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.accepted = 0

    def _paths(self, remote_name: str) -> tuple[Path, Path]:
        _check_remote_name(remote_name)
        final = self.directory / remote_name
        return final, self.directory / (remote_name + PART_SUFFIX)

    def probe(self, remote_name: str, size: int) -> Probe:
        final, part = self._paths(remote_name)
        try:
            if final.exists():
                return Probe.DELIVERED
            return Probe.STAGED if part.stat().st_size == size else Probe.PARTIAL
        except FileNotFoundError:
            return Probe.ABSENT
        except OSError as exc:
            raise self._error(exc) from exc

    def stage(self, remote_name: str, data: bytes) -> None:
        _, part = self._paths(remote_name)
        try:
            with open(part, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())  # "staged" must survive a crash of this machine
        except OSError as exc:
            raise self._error(exc) from exc

    def promote(self, remote_name: str) -> None:
        final, part = self._paths(remote_name)
        try:
            os.replace(part, final)
        except OSError as exc:
            raise self._error(exc) from exc
        self.accepted += 1

    def discard(self, remote_name: str) -> None:
        _, part = self._paths(remote_name)
        try:
            part.unlink(missing_ok=True)
        except OSError as exc:
            raise self._error(exc) from exc

    def staging(self, remote_names: list[str]) -> StagingEach:
        return StagingEach(self)

    def stage_all(self, files: dict[str, bytes]) -> dict[str, TransportError | None]:
        return files_stage(self, files)

    def promote_all(self, names: list[str]) -> dict[str, TransportError | None]:
        return promote_each(self, names)

    def upload(
        self, remote_name: str, data: bytes, *, may_be_delivered: bool = True
    ) -> UploadResult:
        return upload_in_one_go(self, remote_name, data, may_be_delivered=may_be_delivered)

    def _error(self, exc: OSError) -> TransportError:
        where = f"HRM folder {self.directory}"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return TransportError(
                f"{where} does not exist; create it or fix the setting",
                False,
                error_class=ErrorClass.FOLDER,
                refusal=True,
            )
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return TransportError(
                f"{where} cannot be written to (permission denied)",
                False,
                error_class=ErrorClass.PERMISSION,
                refusal=True,
            )
        return TransportError(
            f"{where}: could not write the file ({exc.strerror}); will retry",
            False,
            error_class=ErrorClass.UNREACHABLE,
        )

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> FolderTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
