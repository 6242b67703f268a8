"""The progress line: drawn only on a terminal."""

import io

from glance_baseref.audit import output


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_draws_on_a_terminal_and_clears_its_line():
    stream = Terminal()
    progress = output.Progress(stream)
    progress.count(12, 'images read')
    progress.clear()
    text = stream.getvalue()
    assert '\r12 images read' in text
    assert text.endswith('\r')


def test_progress_writes_nothing_when_not_a_terminal():
    stream = io.StringIO()
    progress = output.Progress(stream)
    progress.count(1, 'images read')
    progress.show('anything')
    progress.clear()
    assert stream.getvalue() == ''
