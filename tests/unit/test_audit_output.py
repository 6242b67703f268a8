"""What the audit prints: aligned tables; progress only on a terminal."""

import io

from glance_baseref.audit import output


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_table_aligns_columns():
    text = output.table(['image', 'size'], [['a', 10], ['bbbbbbb', 2]])
    assert text.splitlines() == ['image    size', 'a        10',
                                 'bbbbbbb  2']


def test_progress_draws_on_a_terminal_and_clears_its_line():
    stream = Terminal()
    progress = output.Progress(stream)
    progress.bar(1, 4, 'images checked')
    progress.count(12, 'images listed')
    progress.clear()
    text = stream.getvalue()
    assert '\r[#######.......................] 1/4 images checked' in text
    assert '\r12 images listed' in text
    assert text.endswith('\r')


def test_progress_writes_nothing_when_not_a_terminal():
    stream = io.StringIO()
    progress = output.Progress(stream)
    progress.bar(1, 4, 'images checked')
    progress.show('anything')
    progress.clear()
    assert stream.getvalue() == ''
