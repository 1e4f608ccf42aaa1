"""Base class for management commands: bad input is one line on stderr and exit status 1.

A command's user gets one line, never a traceback, for what they can fix: an option argparse
refuses (argparse alone would print the usage and exit 2), a domain error (an unknown dataset,
a bad file's content), or a file that is missing or cannot be read.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from backend.common.errors import DomainError

FILE_PROBLEMS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)
FILE_PROBLEM = "Cannot read {path}: {reason}."
NOT_TEXT = "{path} cannot be read as UTF-8 text ({reason})."
BAD_OPTION = "{message} (`python manage.py {command} --help` lists the options)"


class PlatformCommand(BaseCommand):
    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def bad_option(message: str):
            if not self._called_from_command_line:
                raise CommandError(f"Error: {message}")  # call_command: the caller handles it
            self.stderr.write(f"CommandError: {BAD_OPTION.format(message=message, command=subcommand)}")
            sys.exit(1)

        parser.error = bad_option  # argparse would print the whole usage and exit 2
        return parser

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        except FILE_PROBLEMS as exc:
            raise CommandError(FILE_PROBLEM.format(path=exc.filename or "a file",
                                                   reason=(exc.strerror or str(exc)).lower())) from exc
        except UnicodeDecodeError as exc:
            raise CommandError(NOT_TEXT.format(path="An input file", reason=exc.reason)) from exc

    @contextmanager
    def progress_bar(self, *, desc: str, unit: str = "it", disable: bool = False):
        """A tqdm bar on stderr and a `(done, total)` callback that drives it. The bar appears
        with the first progress, so work refused before it starts prints only its error."""
        bars: list[tqdm] = []

        def update(done: int, total: int) -> None:
            if not bars:
                bars.append(tqdm(desc=desc, unit=unit, disable=disable, file=self.stderr._out, dynamic_ncols=True))
            bar = bars[0]
            if bar.total != total:
                bar.total = total
            bar.n = done
            bar.refresh()

        try:
            yield update
        finally:
            for bar in bars:
                bar.close()
