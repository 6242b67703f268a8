"""Collected measurements: medians, spreads, ratios, as text and Markdown."""

import json

from benchmarks import common

_FORMATS = {'s': '%.2f s', 'ms': '%.1f ms', 'us': '%.2f us',
            'MiB': '%.0f MiB', '%': '%.2f %%', 'count': '%d'}


def _fmt(value, unit, markdown=False):
    text = _FORMATS[unit] % value
    return text.replace(' us', ' µs') if markdown else text


class Results:
    def __init__(self):
        self.rows = []

    def add(self, case, measure, variant, samples, unit, baseline=False,
            note=''):
        """A measured variant; its ratio is to the baseline of ``measure``
        (the row of the same case and measure added with baseline=True).
        """
        samples = list(samples)
        low, high = common.spread(samples)
        self.rows.append(dict(case=case, measure=measure, variant=variant,
                              median=common.median(samples), low=low,
                              high=high, n=len(samples), unit=unit,
                              baseline=baseline, note=note,
                              samples=samples))

    def add_value(self, case, measure, variant, value, unit, note=''):
        """A derived number (a difference, a per-call time)."""
        self.rows.append(dict(case=case, measure=measure, variant=variant,
                              median=value, low=None, high=None, n=None,
                              unit=unit, baseline=False, note=note,
                              samples=[]))

    def ordered(self, case=None):
        """Rows by case, then by measure in the order first seen."""
        first = {}
        for index, row in enumerate(self.rows):
            first.setdefault((row['case'], row['measure']), index)
        rows = [r for r in self.rows if case in (None, r['case'])]
        return sorted(rows, key=lambda r: (r['case'],
                                           first[(r['case'],
                                                  r['measure'])]))

    def ratio(self, row):
        """Median over the baseline's median, or None."""
        for other in self.rows:
            if (other['baseline'] and other['case'] == row['case']
                    and other['measure'] == row['measure']
                    and other['median']):
                return row['median'] / other['median']
        return None

    def _ratio(self, row):
        if row['baseline']:
            return '1.00 (baseline)'
        ratio = self.ratio(row)
        if ratio is not None:
            return '%.2f' % ratio
        return row['note']

    def text(self, case):
        rows = self.ordered(case)
        lines = ['case %s' % case]
        measure = None
        for row in rows:
            if row['measure'] != measure:
                measure = row['measure']
                lines.append('  ' + measure)
            spread = ('' if row['low'] is None else '  [%s .. %s, n=%d]'
                      % (_fmt(row['low'], row['unit']),
                         _fmt(row['high'], row['unit']), row['n']))
            lines.append('    %-40s %12s  %-16s%s' % (
                row['variant'], _fmt(row['median'], row['unit']),
                self._ratio(row), spread))
        return '\n'.join(lines)

    def markdown(self, titles):
        lines = ['| case | measured | variant | median | min - max (n) '
                 '| ratio |', '| --- | --- | --- | --- | --- | --- |']
        case = None
        for row in self.ordered():
            spread = ('' if row['low'] is None else '%s - %s (%d)' % (
                _fmt(row['low'], row['unit'], True),
                _fmt(row['high'], row['unit'], True), row['n']))
            ratio = self._ratio(row)
            title = ('%s. %s' % (row['case'], titles[row['case']])
                     if row['case'] != case else '')
            case = row['case']
            lines.append('| %s | %s | %s | %s | %s | %s |' % (
                title,
                row['measure'], row['variant'],
                _fmt(row['median'], row['unit'], True), spread,
                ratio.replace(' us', ' µs')))
        return '\n'.join(lines)

    def dump(self, path, machine, command):
        with open(path, 'w') as f:
            json.dump({'command': command, 'machine': machine,
                       'rows': self.rows}, f, indent=1)
