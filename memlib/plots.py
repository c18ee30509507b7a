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


def curves_by(frame, x, by, value, ax=None, ylabel=None):
    """:func:`curves` of ``value`` against ``x``, one curve per value of ``by`` (in the order first seen) and a ±1
    sd band over the rows that share both (e.g. seeds): a probe record's per-layer curves."""
    names = list(dict.fromkeys(frame[by]))
    index = ["seed", x] if "seed" in frame else [x]
    wide = frame.pivot_table(index=index, columns=by, values=value, dropna=False).reset_index()
    return curves(wide, x, names, ax=ax, ylabel=ylabel)


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
