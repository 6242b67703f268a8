"""The charts of benchmarks/results, drawn with matplotlib.

matplotlib is a dependency of the benchmarks only
(benchmarks/requirements.txt, installed by ``./run bench``), not of the
filter. The charts use the Agg backend: no display is needed.
"""

import matplotlib

matplotlib.use('Agg')

from matplotlib import pyplot  # noqa: E402

_COLOURS = ('#4c72b0', '#dd8452', '#55a868', '#c44e52')


def bar_chart(path, title, groups, series, unit='s', notes=(),
              highlight=None):
    """A horizontal grouped bar chart as a PNG file.

    ``groups`` is ``[(label, [value per series])]``, drawn top to bottom;
    ``series`` names the bars of a group (the legend). Each bar carries
    its value. ``highlight`` is a label drawn in bold.
    """
    rows = len(groups)
    bars = len(series)
    height = 0.8 / bars
    figure, axes = pyplot.subplots(
        figsize=(10, 1.5 + 0.32 * rows * bars + 0.12 * len(notes)),
        dpi=100)
    top = max(v for _label, values in groups for v in values if v)
    for number, name in enumerate(series):
        positions = [row + number * height for row in range(rows)]
        values = [values[number] or 0 for _label, values in groups]
        drawn = axes.barh(positions, values, height=height * 0.92,
                          label=name, color=_COLOURS[number % 4])
        axes.bar_label(drawn, labels=['%.2f %s' % (v, unit) if v else ''
                                      for v in values],
                       padding=3, fontsize=8)
    axes.set_yticks([row + (bars - 1) * height / 2 for row in range(rows)])
    axes.set_yticklabels([label for label, _values in groups], fontsize=9)
    for tick in axes.get_yticklabels():
        if tick.get_text() == highlight:
            tick.set_fontweight('bold')
    axes.invert_yaxis()
    axes.set_xlim(0, top * 1.15)
    axes.set_xlabel(unit)
    axes.grid(axis='x', alpha=0.3)
    axes.set_axisbelow(True)
    for side in ('top', 'right'):
        axes.spines[side].set_visible(False)
    axes.set_title(title, fontsize=11, loc='left')
    # A footer below the axes, clear of the bars: the notes, and the
    # legend above them. Heights in inches.
    notes_height = 0.05 + 0.12 * len(notes)
    legend_height = 0.3 if bars > 1 else 0.0
    inches = figure.get_figheight()
    if notes:
        figure.text(0.01, 0.05 / inches, '\n'.join(notes), fontsize=7,
                    color='#555555', va='bottom')
    if bars > 1:
        figure.legend(loc='lower left', fontsize=9, ncol=bars,
                      frameon=False,
                      bbox_to_anchor=(0.0, notes_height / inches))
    footer = notes_height + legend_height + 0.1
    figure.tight_layout(rect=(0, footer / inches, 1, 1))
    figure.savefig(path, metadata={'Software': None})
    pyplot.close(figure)
    return path
