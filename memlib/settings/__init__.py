"""Every chapter's settings for the three profiles, in one place (ARCHITECTURE.md, "Profiles"): the notebooks,
the reproduction tests and the smoke runs all read them from here, and no one retypes them.

Each chapter has a module ``chNN`` holding one :class:`Chapter`: its configuration per profile, and the rows of
the table that sets the paper profile beside the paper and its reference code. ``settings.chapter(8).config()``
is the active profile's configuration (at smoke scale when ``MEMLIB_SMOKE=1``); ``settings.chapter(8).table()``
is the table, as Markdown.
"""
import copy
import importlib
from dataclasses import dataclass, field

from memlib import profiles

# At smoke scale (MEMLIB_SMOKE=1): what every chapter's configuration keeps of these keys, wherever they stand.
SMOKE = {
    "epochs": lambda epochs: min(epochs, 2),
    "seeds": lambda seeds: 1 if isinstance(seeds, int) else list(seeds)[:1],
}


@dataclass(frozen=True)
class Setting:
    """One row of a chapter's settings table.

    ``name``: what is set; ``where``: the value's place in a profile's configuration, as a dotted path of keys
    and list positions (``"fit.lr"``, ``"setups.0.model"``) or a function of the configuration that returns the
    text to show; ``paper`` and ``code``: what the paper and its reference code use, with the section or file;
    ``note``: where this book's paper profile deviates (or the paper and its code disagree), what and why.
    """

    name: str
    where: object
    paper: str
    code: str
    note: str = ""

    def value(self, config) -> str:
        if callable(self.where):
            return str(self.where(config))
        value = config
        for key in self.where.split("."):
            value = value[int(key)] if isinstance(value, (list, tuple)) else value[key]
        return describe(value)


@dataclass(frozen=True)
class Chapter:
    """A chapter's configuration per profile (``profiles``: quick, standard and paper, each a dict of plain
    values), the rows of its settings table, and ``smoke``: what its configuration keeps at smoke scale beyond
    :data:`SMOKE` (key → value, or a function of the profile's value)."""

    number: int
    profiles: dict
    settings: tuple
    smoke: dict = field(default_factory=dict)

    def __post_init__(self):
        missing = set(profiles.PROFILES) - set(self.profiles)
        if missing:
            raise ValueError(f"chapter {self.number} has no settings for {sorted(missing)}")

    def config(self, profile=None) -> dict:
        """The configuration of ``profile`` (default: the active one), at smoke scale when ``MEMLIB_SMOKE=1``."""
        config = copy.deepcopy(self.profiles[profile or profiles.profile()])
        return _scaled(config, {**SMOKE, **self.smoke}) if profiles.smoke() else config

    def table(self) -> str:
        """The settings table, as Markdown: each setting in the paper, in its reference code, in this book's paper
        and standard profiles, and the reason for any deviation."""
        paper, standard = self.profiles["paper"], self.profiles["standard"]
        lines = ["| setting | paper | reference code | this book: paper profile | standard profile "
                 "| deviation, and why |",
                 "|---|---|---|---|---|---|"]
        for row in self.settings:
            cells = [row.name, row.paper, row.code, row.value(paper), row.value(standard), row.note or "—"]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        return "\n".join(lines)


def chapter(number) -> Chapter:
    """The settings of chapter ``number`` (1, 2, …)."""
    try:
        module = importlib.import_module(f"memlib.settings.ch{int(number):02d}")
    except ModuleNotFoundError:
        raise ValueError(f"no settings for chapter {number!r}") from None
    return module.CHAPTER


def schedule(fit) -> str:
    """A ``fit`` recipe's learning-rate schedule in words: its warm-up, then its shape."""
    shape = fit.get("schedule", "cosine")
    if isinstance(shape, dict):
        text = f"cosine restarts: {shape['cycles']} cycles down to {describe(shape.get('floor', 0.0))}"
    else:
        text = {"step": "×0.1 at 50% and 75%", "cosine": "cosine to 0", "triangle": "linear to 0"}.get(shape, shape)
    warmup = fit.get("warmup", 0.0)
    return (f"{warmup:.0%} linear warm-up, then " if warmup else "no warm-up, ") + text


def normalization(dataset) -> str:
    """The input normalization of dataset ``dataset`` (a name) in words: the reference statistics of a
    torchvision dataset, or the embedded datasets' own training statistics."""
    from memlib import data

    norm = data.REFERENCE.get(dataset)
    return f"({describe(norm.mean)}) / ({describe(norm.std)})" if norm else "training-set mean / std"


def describe(value) -> str:
    """A configuration value as a reader reads it: numbers short (0.1, 5e-4), lists comma-separated, dicts as
    key=value, None as "none"."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if 0 < abs(value) < 1e-3:
            mantissa, exponent = f"{value:e}".split("e")
            return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(describe(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={describe(v)}" for k, v in value.items()) if value else "none"
    return str(value)


def _scaled(config, rules):
    if isinstance(config, dict):
        return {k: (rules[k](v) if callable(rules[k]) else rules[k]) if k in rules else _scaled(v, rules)
                for k, v in config.items()}
    if isinstance(config, list):
        return [_scaled(v, rules) for v in config]
    return config
