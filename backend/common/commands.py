"""Base class for management commands: domain errors become clean command errors."""
from __future__ import annotations

from contextlib import contextmanager

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from backend.common.errors import DomainError


class PlatformCommand(BaseCommand):
    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    @contextmanager
    def progress_bar(self, *, desc: str, unit: str = "it", disable: bool = False):
        """A tqdm bar on stderr and a `(done, total)` callback that drives it."""
        bar = tqdm(desc=desc, unit=unit, disable=disable, file=self.stderr._out, dynamic_ncols=True)

        def update(done: int, total: int) -> None:
            if bar.total != total:
                bar.total = total
            bar.n = done
            bar.refresh()

        try:
            yield update
        finally:
            bar.close()
