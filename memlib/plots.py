"""Figures in one consistent style: curves with mean ± sd bands over seeds, and image grids."""
import matplotlib.pyplot as plt
import numpy as np

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#7f7f7f", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"]
STYLE = {
    "figure.dpi": 110, "savefig.dpi": 110, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.alpha": 0.3, "axes.prop_cycle": plt.cycler(color=PALETTE),
    "legend.frameon": False, "font.size": 10,
}
plt.rcParams.update(STYLE)


def setup_title(setup) -> str:
    """"<model> on <dataset>" for a setup of a chapter's settings."""
    return f"{setup['model']} on {setup['dataset']}"


def mean_sd(frame, x, columns):
    """Mean and standard deviation of ``columns`` over the rows that share an ``x`` (e.g. over seeds): a frame
    indexed by ``x`` with columns ``<column>_mean`` and ``<column>_sd``."""
    grouped = frame.groupby(x)[list(columns)]
    mean = grouped.mean().add_suffix("_mean")
    sd = grouped.std(ddof=1).fillna(0.0).add_suffix("_sd")
    return mean.join(sd)


def curves(frame, x, columns, labels=None, ax=None, ylabel=None):
    """Plot each of ``columns`` against ``x``, as the mean over the rows that share an ``x`` with a ±1 sd band."""
    ax = ax or plt.subplots(figsize=(6.4, 3.8))[1]
    stats = mean_sd(frame, x, columns)
    for column in columns:
        mean, sd = stats[f"{column}_mean"], stats[f"{column}_sd"]
        line, = ax.plot(stats.index, mean, label=(labels or {}).get(column, column))
        ax.fill_between(stats.index, mean - sd, mean + sd, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel(x)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax


def image_grid(images, titles=None, columns=8, size=1.2, cmap="gray"):
    """A grid of images (N×C×H×W tensors or arrays in [0, 1]) with optional titles."""
    images = np.asarray(images)
    rows = max(1, -(-len(images) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * size * 1.15), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            image = images[i].transpose(1, 2, 0)
            ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap=cmap, vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def remaining_axis(ax):
    """An x axis of the share of weights remaining, as pruning proceeds: log scale, in percent, decreasing to the
    right (Frankle & Carbin 2019, Fig. 1)."""
    import matplotlib.ticker as mticker

    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(mticker.PercentFormatter(1.0, decimals=0))
    if not ax.xaxis_inverted():
        ax.invert_xaxis()
    return ax


def curves_by(frame, x, y, by, labels=None, ax=None, ylabel=None):
    """Plot column ``y`` against ``x``, one curve per value of column ``by`` (in order of appearance), each the mean
    over the rows that share an ``x`` with a ±1 sd band (:func:`curves`). ``labels``: a function of the ``by`` value
    that names its curve (default "<by> <value>")."""
    ax = ax or plt.subplots(figsize=(6.4, 3.8))[1]
    for value, part in frame.groupby(by, sort=False):
        name = labels(value) if labels else f"{by} {value}"
        curves(part.rename(columns={y: name}), x, [name], ax=ax, ylabel=ylabel)
    return ax


def trajectories(paths, ax=None, limit=None, colors=None, styles=None):
    """Paths in a plane (``paths``: name → T × 2 array), each a line with a dot at its last point inside the square
    of half-width ``limit`` (default: its last point), which also frames the axes. ``colors`` and ``styles`` (name →
    keyword arguments of the line) default to the palette in the order of ``paths`` and to plain lines."""
    ax = ax or plt.subplots(figsize=(5.2, 5.2))[1]
    for i, (name, path) in enumerate(paths.items()):
        path = np.asarray(path)
        color = (colors or {}).get(name, PALETTE[i % len(PALETTE)])
        ax.plot(*path.T, label=name, color=color, **{"linewidth": 1.5, **(styles or {}).get(name, {})})
        inside = path if limit is None else path[np.abs(path).max(axis=1) < limit]
        if len(inside):
            ax.plot(*inside[-1], "o", markersize=5, color=color)
    if limit is not None:
        ax.set(xlim=(-limit, limit), ylim=(-limit, limit), aspect="equal")
    return ax


def measured_vs_predicted(predicted, measured, labels, ax=None, xlabel="predicted", ylabel="measured"):
    """Measured values against the values a theory predicts, one labelled point each, beside the identity line
    (where the points lie when the theory is exact)."""
    ax = ax or plt.subplots(figsize=(5.2, 4))[1]
    predicted, measured = np.asarray(predicted, dtype=float), np.asarray(measured, dtype=float)
    ax.plot(predicted, measured, "o")
    ax.axline((predicted[0], predicted[0]), slope=1, color="0.5", linestyle="--", linewidth=1)
    for x, y, label in zip(predicted, measured, labels):
        ax.annotate(label, (x, y), fontsize=8, xytext=(4, -10), textcoords="offset points")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    return ax
