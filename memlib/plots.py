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


# The columns of a memorization timeline (memlib.noise.timeline), as a figure's legend names them.
TIMELINE = {"clean": "clean examples (given label)", "memorized": "mislabeled: noisy label (memorized)",
            "true_label": "mislabeled: true label", "test": "test accuracy"}


def timeline(frame, ax=None, marks=(), title=None, legend="right"):
    """The memorization timeline of Arpit et al. (2017) and Maini et al. (2023, Sec. 3): each column of
    :data:`TIMELINE` per epoch, mean ± sd over the runs in ``frame``, with dotted lines at the epochs ``marks`` and
    the legend to the ``"right"`` or ``"below"``."""
    ax = curves(frame, "epoch", list(TIMELINE), labels=TIMELINE, ax=ax, ylabel="fraction of examples")
    if legend == "below":
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    for epoch in marks:
        ax.axvline(epoch, color="k", linestyle=":", linewidth=1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title or "")
    return ax


def heatmap(frame, x, y, value, ax=None, marks=(), title=None, colorbar=True, vmin=-1, vmax=1, cmap="RdBu_r",
            empty="nothing to show"):
    """``value`` of a long ``frame`` as an image, ``y`` (rows, first seen at the bottom) × ``x``, averaged over the
    rows that share both (e.g. seeds), with dotted lines at ``marks`` along ``x``: a layer × epoch map like Maini et
    al.'s (2023) Fig. 3. Returns the image, for a colorbar shared by several maps (``colorbar=False``); when every
    value is missing, the axes show the text ``empty`` instead and None is returned."""
    ax = ax or plt.subplots(figsize=(6.4, 3.4))[1]
    if frame[value].isna().all():
        ax.axis("off")
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes)
        return None
    rows = list(dict.fromkeys(frame[y]))
    table = frame.groupby([y, x])[value].mean().unstack().loc[rows]
    xs = table.columns.to_numpy()
    image = ax.imshow(table.to_numpy(), aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, origin="lower",
                      interpolation="nearest", extent=(xs[0] - 0.5, xs[-1] + 0.5, -0.5, len(rows) - 0.5))
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel(x)
    ax.grid(False)
    for mark in marks:
        ax.axvline(mark, color="k", linestyle=":", linewidth=1)
    ax.set_title(title or "")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.04)
    return image


def opposition(records, ax=None, title=None):
    """Per epoch, the clean-vs-subset gradient cosine of each named probe record in ``records`` (``{name:
    GradientProbe frame}``), as the mean over the hidden layer groups (solid) and in the output layer (dashed), one
    colour per record, averaged over seeds: Maini et al.'s (2023) Fig. 3 beside a control subset."""
    from memlib.gradients import epoch_summary

    ax = ax or plt.subplots(figsize=(6.4, 3.4))[1]
    for (name, record), color in zip(records.items(), PALETTE):
        cosines = epoch_summary(record).groupby("epoch").mean().reset_index()  # over seeds
        ax.plot(cosines.epoch, cosines.hidden, color=color, label=f"{name}: hidden layers (mean)")
        ax.plot(cosines.epoch, cosines.output, color=color, linestyle="--", linewidth=1, label=f"{name}: output layer")
    ax.axhline(0, color="k", linewidth=0.8)
    ax.set(xlabel="epoch", ylabel="cosine", ylim=(-1.05, 1.05), title=title or "")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax


def grouped_bars(means, sds=None, labels=None, ax=None, title=None, ylabel="accuracy"):
    """One group of bars per row of the frame ``means`` (its index names the groups), one bar per column (named by
    ``labels``), with ``sds`` (same shape) as error bars: e.g. Table 3 of Maini et al. (2023) as a figure."""
    ax = ax or plt.subplots(figsize=(7.5, 3.4))[1]
    width = 0.8 / len(means.columns)
    for i, column in enumerate(means.columns):
        offsets = np.arange(len(means)) + (i - (len(means.columns) - 1) / 2) * width
        ax.bar(offsets, means[column], width=width, label=(labels or {}).get(column, column),
               yerr=None if sds is None else sds[column], capsize=2)
    ax.set_xticks(range(len(means)), [str(name).replace(", ", ",\n") for name in means.index], fontsize=8)
    ax.set(ylabel=ylabel, ylim=(0, 1.05), title=title or "")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax
