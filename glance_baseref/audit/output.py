"""The progress line on stderr; cliff formats what goes to stdout."""

import threading


class Progress:
    """One self-overwriting status line, only when ``stream`` is a terminal.

    Redirected to a file or a pipe, stderr then holds only the messages
    that matter (errors, the partial-result notice), never ``\\r`` noise.
    """

    def __init__(self, stream):
        self.stream = stream
        self.enabled = bool(getattr(stream, 'isatty', lambda: False)())
        self._width = 0
        self._lock = threading.Lock()

    def show(self, text):
        if not self.enabled:
            return
        with self._lock:
            padding = ' ' * max(0, self._width - len(text))
            self.stream.write('\r' + text + padding)
            self.stream.flush()
            self._width = len(text)

    def count(self, done, what):
        self.show('%d %s' % (done, what))

    def clear(self):
        if self.enabled and self._width:
            self.show('')
            self.stream.write('\r')
            self.stream.flush()
            self._width = 0
