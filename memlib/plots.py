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


def curves(frame, x, columns, labels=None, ax=None, ylabel=None, xlabel=None, marker=None):
    """Plot each of ``columns`` against ``x``, as the mean over the rows that share an ``x`` with a ±1 sd band (and
    ``marker`` at each ``x``, e.g. "o" where the x values are few); the x axis is labelled ``xlabel`` (default
    ``x``)."""
    ax = ax or plt.subplots(figsize=(6.4, 3.8))[1]
    stats = mean_sd(frame, x, columns)
    for column in columns:
        mean, sd = stats[f"{column}_mean"], stats[f"{column}_sd"]
        line, = ax.plot(stats.index, mean, label=(labels or {}).get(column, column), marker=marker)
        ax.fill_between(stats.index, mean - sd, mean + sd, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel(x if xlabel is None else xlabel)
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


# The columns of memlib.noise.timeline as a legend names them (Arpit et al. 2017; Liu et al. 2020, Fig. 1).
TIMELINE = {"clean": "clean: given label", "memorized": "mislabeled: noisy label (memorized)",
            "true_label": "mislabeled: true class", "test": "test accuracy"}


def panels(frame, by, x, columns, *, labels=None, ylabel=None, title="", ylim=(-0.02, 1.02)):
    """One panel per value of ``by`` (in order of appearance), side by side with a shared y axis, each drawing
    ``columns`` with :func:`curves` (legend labels from ``labels``, default :data:`TIMELINE`); the legend once,
    beside the last panel. Each panel is titled "<value>: <title>". Returns the figure."""
    values = list(dict.fromkeys(frame[by]))
    fig, axes = plt.subplots(1, len(values), figsize=(5.5 * len(values), 3.6), sharey=True, squeeze=False)
    for ax, value in zip(axes[0], values):
        curves(frame[frame[by] == value], x, list(columns), labels=labels or TIMELINE, ax=ax, ylabel=ylabel)
        ax.set(title=f"{value}: {title}" if title else str(value), ylim=ylim)
        if ax is not axes[0, -1]:
            ax.get_legend().remove()
    fig.tight_layout()
    return fig


def compare_runs(runs, x, ylabels, *, title=""):
    """Several runs side by side: one panel per column of ``ylabels`` (column → y-axis label), one line per run
    (``runs``: legend label → frame with ``x`` and the columns); the legend beside the last panel, ``title`` on
    the first. Returns the figure."""
    fig, axes = plt.subplots(1, len(ylabels), figsize=(5.5 * len(ylabels), 3.4), squeeze=False)
    for ax, (column, ylabel) in zip(axes[0], ylabels.items()):
        for label, frame in runs.items():
            ax.plot(frame[x], frame[column], label=label)
        ax.set(xlabel=x, ylabel=ylabel)
    axes[0, 0].set_title(title)
    axes[0, -1].legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def landmark_axes(landmarks, panels, *, xmax, linthresh=10, title=""):
    """A column of ``panels`` axes sharing one iteration axis (linear up to ``linthresh``, logarithmic beyond, up
    to ``xmax``) under a strip that names each landmark (``landmarks``: label → iteration; missing ones left out),
    each landmark a dashed line of its own colour in every panel: the layout of Frankle, Schwab & Morcos (2020,
    Fig. 2). Returns ``(figure, axes)``, the axes without the strip."""
    marks = sorted(((label, step) for label, step in landmarks.items() if step is not None and step == step),
                   key=lambda item: item[1])
    fig, axes = plt.subplots(panels + 1, 1, figsize=(8, 2 * panels + 1.6), sharex=True,
                             gridspec_kw={"height_ratios": [0.8] + [1] * panels})
    strip = axes[0]
    for i, (label, step) in enumerate(marks):
        color = (PALETTE[4:] + PALETTE)[i]
        strip.plot([step], [0], "v", color=color, markersize=9)
        strip.text(0.01, 0.95 - 0.2 * i, f"iteration {int(step)}: {label}", color=color, fontsize=9,
                   transform=strip.transAxes, va="top")
        for ax in axes[1:]:
            ax.axvline(step, color=color, linestyle="--", linewidth=0.8)
    strip.set(ylim=(-0.3, 1), yticks=[])
    strip.grid(False)
    for spine in ("left", "top", "right"):
        strip.spines[spine].set_visible(False)
    axes[-1].set_xscale("symlog", linthresh=linthresh)
    axes[-1].set_xlim(0, xmax)
    fig.suptitle(title)
    return fig, list(axes[1:])


def sparsity_axis(ax, label="share of prunable weights remaining"):
    """Set ``ax``'s x axis for a pruning run (``label=None`` leaves its label alone): the share of weights remaining
    on a log scale, as a percentage, the network getting sparser to the right (Frankle & Carbin 2019, Fig. 3)."""
    from matplotlib.ticker import PercentFormatter

    ax.set_xscale("log")
    if not ax.xaxis_inverted():  # axes that share x are inverted together
        ax.invert_xaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    if label:
        ax.set_xlabel(label)
    return ax
