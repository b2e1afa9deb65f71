"""Virtual populations learned from real seed data with SDV, and how faithful and private they are.

A learned population starts from a small table of real patients (the *seed data*, a CSV or
parquet file such as ``cohorts/seeds/kidney_transplant.csv``). An SDV synthesizer
(``GaussianCopulaSynthesizer`` by default; CTGAN or TVAE on request) is fitted to it and then
sampled. The demographic columns of each virtual patient (race and ethnicity, sex, ...) are
usually drawn beforehand by the cohort spec's backbone, so that the population has the shares
the spec asks for; they reach :func:`learn_population` as ``conditions``, and SDV's conditional
sampling (``sample_remaining_columns``) fills in the other columns given them.

Every learned population should come with :func:`fidelity_report`: SDMetrics' quality scores
overall *and within each demographic group* (a good global average can hide a poor fit for a
small group), and privacy figures: how many synthetic rows copy a real patient outright, SDMetrics'
``NewRowSynthesis``, and the distance to the closest training record against a holdout set.

How columns are modelled (see :func:`column_sdtypes`): strings, categoricals and booleans are
categorical; integers with at most :data:`CATEGORICAL_MAX_LEVELS` distinct values (an event
indicator, an ECOG grade) are categorical too, so they come back as exactly the levels seen;
other numbers are numerical. Dates and nested types are refused.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

Synthesizer = Literal["gaussian_copula", "ctgan", "tvae"]
SYNTHESIZERS: tuple[str, ...] = ("gaussian_copula", "ctgan", "tvae")
# The one table SDV and SDMetrics see; the name never leaves this module.
TABLE = "seed"
# Integer columns with this many distinct values or fewer are modelled as categories.
CATEGORICAL_MAX_LEVELS = 10
# fidelity_report scores at most this many synthetic rows (a seeded subsample of larger
# populations): SDMetrics' scores settle long before, and a 10^6-row population stays cheap.
REPORT_MAX_ROWS = 50_000
# SDMetrics' NewRowSynthesis runs one pandas query per synthetic row (~2 ms each).
NEW_ROW_SYNTHESIS_ROWS = 1_000
# Rows drawn from the synthesizer refitted on the training split, for the distance checks.
DCR_ROWS = 5_000


class PrivacyError(ValueError):
    """A learned population copies too many real patients to be written.

    Parameters
    ----------
    copies, rows
        Synthetic rows identical to a seed-data row, and synthetic rows in all.
    max_copy_rate
        The largest share of copies allowed.

    Examples
    --------
    >>> str(PrivacyError(copies=30, rows=1000, max_copy_rate=0.01)).split(";")[0]
    'refusing the learned population: 30 of its 1,000 rows (3.00%) are exact copies of a seed-data row'
    """

    def __init__(self, *, copies: int, rows: int, max_copy_rate: float) -> None:
        self.copies = copies
        self.rows = rows
        self.copy_rate = copies / rows if rows else 0.0
        self.max_copy_rate = max_copy_rate
        super().__init__(
            f"refusing the learned population: {copies:,} of its {rows:,} rows ({self.copy_rate:.2%}) "
            f"are exact copies of a seed-data row; the limit is max_copy_rate={max_copy_rate:.2%}. "
            "A copied row is a real patient's record. Drop or coarsen columns that identify people, "
            "add seed patients, or (only if the seed data are already public or every column is a "
            "coarse category, where repeats are unavoidable) raise max_copy_rate."
        )


def load_seed_data(path: Path | str, required: Sequence[str] | None = None) -> pl.DataFrame:
    """Read seed data (real patients) from a CSV or parquet file.

    Parameters
    ----------
    path
        A ``.csv`` or ``.parquet`` file, one row per patient.
    required
        Columns the caller needs (e.g. the backbone's demographic columns); a file without
        them is refused with the names of the missing columns and the columns it has.

    Returns
    -------
    polars.DataFrame
        The file's rows and columns as they are.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is not CSV or parquet, is empty, or lacks a required column.

    Examples
    --------
    >>> seed = load_seed_data("cohorts/seeds/kidney_transplant.csv", required=["sex", "race_ethnicity"])
    >>> seed.shape, seed.columns
    ((863, 5), ['age', 'sex', 'race_ethnicity', 'time', 'death'])
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such seed data file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        data = pl.read_csv(path)
    elif suffix in (".parquet", ".pq"):
        data = pl.read_parquet(path)
    else:
        raise ValueError(f"{path}: seed data must be a .csv or .parquet file, not {suffix or 'a file without suffix'}")
    if data.height == 0:
        raise ValueError(f"{path}: the seed data have no rows")
    missing = [name for name in (required or ()) if name not in data.columns]
    if missing:
        raise ValueError(
            f"{path}: the seed data lack the column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(name) for name in missing)}; the file has {', '.join(data.columns)}"
        )
    return data


def column_sdtypes(seed_data: pl.DataFrame) -> dict[str, str]:
    """How each seed column is modelled: ``"categorical"``, ``"boolean"`` or ``"numerical"``.

    Raises
    ------
    ValueError
        For a column of a type that cannot be learned (dates, lists, ...), and for a text
        column whose every value is different, which is an identifier, not a covariate.

    Examples
    --------
    >>> column_sdtypes(pl.DataFrame({"age": [50.5, 61.0], "sex": ["F", "M"], "death": [0, 1]}))
    {'age': 'numerical', 'sex': 'categorical', 'death': 'categorical'}
    """
    sdtypes: dict[str, str] = {}
    for name, dtype in seed_data.schema.items():
        if dtype == pl.Boolean:
            sdtypes[name] = "boolean"
        elif dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
            levels = seed_data[name].n_unique()
            if levels == seed_data.height and seed_data.height > 20:
                raise ValueError(
                    f"seed column {name!r} has a different value in every row, so it identifies patients "
                    "rather than describing them; drop it from the seed data"
                )
            sdtypes[name] = "categorical"
        elif dtype.is_integer():
            few = seed_data[name].n_unique() <= CATEGORICAL_MAX_LEVELS
            sdtypes[name] = "categorical" if few else "numerical"
        elif dtype.is_float():
            sdtypes[name] = "numerical"
        else:
            raise ValueError(
                f"seed column {name!r} has type {dtype}, which cannot be learned; "
                "use numbers, text, categories or booleans (e.g. turn a date into days since an origin)"
            )
    if not sdtypes:
        raise ValueError("the seed data have no columns")
    return sdtypes


def _metadata(sdtypes: dict[str, str]) -> dict[str, Any]:
    """The SDV / SDMetrics metadata dict of one table with these column sdtypes."""
    return {"tables": {TABLE: {"columns": {name: {"sdtype": kind} for name, kind in sdtypes.items()}}}}


def _to_pandas(frame: pl.DataFrame) -> Any:
    """A pandas copy for SDV; categories become plain text so SDV sees the values themselves."""
    casts = [
        pl.col(name).cast(pl.String)
        for name, dtype in frame.schema.items()
        if dtype == pl.Categorical or isinstance(dtype, pl.Enum)
    ]
    return (frame.with_columns(casts) if casts else frame).to_pandas()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence SDV's progress bars (tqdm writes to stderr) and its advice to save metadata."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.filterwarnings("ignore", message=".*saving the metadata.*", category=UserWarning)
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"(sdv|sdmetrics|rdt|copulas|ctgan)")
        yield


@contextlib.contextmanager
def _global_seeds(seed: int) -> Iterator[None]:
    """Seed numpy's and torch's global generators, restoring them afterwards.

    CTGAN and TVAE train from the global generators (network initialisation, minibatches), so
    without this two fits of the same data would differ; restoring keeps the caller's streams.
    """
    import torch

    np_state = np.random.get_state()
    torch_state = torch.get_rng_state()
    np.random.seed(seed)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)


def _fit(seed_pd: Any, sdtypes: dict[str, str], synthesizer: str, epochs: int | None, fit_seed: int) -> Any:
    """A fitted SDV single-table synthesizer of the given kind."""
    from sdv.metadata import Metadata
    from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer, TVAESynthesizer

    with _quiet():
        metadata = Metadata.load_from_dict(_metadata(sdtypes))
        if synthesizer == "gaussian_copula":
            model = GaussianCopulaSynthesizer(metadata)
        else:
            # CPU only: results must not depend on whether a GPU happens to be present.
            kind = CTGANSynthesizer if synthesizer == "ctgan" else TVAESynthesizer
            model = kind(metadata, epochs=epochs or 300, enable_gpu=False)
        with _global_seeds(fit_seed):
            model.fit({TABLE: seed_pd})
    return model


def _seed_sampling(model: Any, model_seed: int, transformer_seed: int) -> None:
    """Make the fitted synthesizer's next draws a function of our seeds only.

    SDV samples from a fixed seed (``FIXED_RNG_SEED``) unless told otherwise, so without this two
    different seeds would give the same population. ``reset_sampling`` is public; the model's
    generator is set through ``_set_random_state``, the one place SDV itself seeds it. The RDT
    transformers (they place a condition's category inside its latent interval, and add noise on
    the way back) get their own generators through their public ``set_random_state``.
    """
    model.reset_sampling()
    model._set_random_state(int(model_seed))
    children = np.random.SeedSequence(transformer_seed).spawn(2 * len(model.get_transformers()))
    for index, transformer in enumerate(model.get_transformers().values()):
        if transformer is None:
            continue
        for offset, method in enumerate(("transform", "reverse_transform")):
            state = int(children[2 * index + offset].generate_state(1)[0])
            transformer.set_random_state(np.random.RandomState(state), method)


def _validate_conditions(seed_data: pl.DataFrame, conditions: pl.DataFrame, size: int, sdtypes: dict[str, str]) -> None:
    if conditions.height != size:
        raise ValueError(f"conditions have {conditions.height:,} rows but size={size:,}; give one row per patient")
    unknown = [name for name in conditions.columns if name not in seed_data.columns]
    if unknown:
        raise ValueError(
            f"condition column{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"not in the seed data, which have {', '.join(seed_data.columns)}"
        )
    if len(conditions.columns) == len(seed_data.columns):
        raise ValueError("the conditions give every seed column, so there is nothing left to learn")
    for name in conditions.columns:
        if conditions[name].null_count() and not seed_data[name].null_count():
            raise ValueError(f"condition column {name!r} has missing values, which the seed data never have")
        if sdtypes[name] == "numerical":
            continue
        seen = set(seed_data[name].cast(pl.String).drop_nulls().to_list())
        asked = set(conditions[name].cast(pl.String).drop_nulls().to_list())
        unseen = sorted(asked - seen)
        if unseen:
            raise ValueError(
                f"condition column {name!r} asks for {', '.join(map(repr, unseen))}, which the seed data never have "
                f"(they have {', '.join(map(repr, sorted(seen)))}); a learned synthesizer cannot invent a group, "
                "so map it to one of these or use seed data that include it"
            )


def _align(real: pl.DataFrame, synthetic: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Both tables with one type per column, without losing a value on either side.

    Categories become text (a Categorical and a String of the same text are the same value);
    numbers of different types become Float64 (never truncate 50.5 to 50); other mismatches text.
    """
    real_casts, synth_casts = [], []
    for name, dtype in real.schema.items():
        other = synthetic.schema[name]
        if dtype == other and not (dtype == pl.Categorical or isinstance(dtype, pl.Enum)):
            continue
        target = pl.Float64 if dtype.is_numeric() and other.is_numeric() else pl.String
        real_casts.append(pl.col(name).cast(target))
        synth_casts.append(pl.col(name).cast(target))
    return real.with_columns(real_casts), synthetic.with_columns(synth_casts)


def count_copies(seed_data: pl.DataFrame, synthetic: pl.DataFrame) -> int:
    """How many synthetic rows are identical, in every seed column, to some seed-data row.

    Missing values count as equal to missing values; numbers must match exactly.

    Examples
    --------
    >>> real = pl.DataFrame({"sex": ["F", "M"], "age": [50, 60]})
    >>> count_copies(real, pl.DataFrame({"sex": ["F", "F", "M"], "age": [50, 51, 60]}))
    2
    """
    missing = [name for name in seed_data.columns if name not in synthetic.columns]
    if missing:
        raise ValueError(f"the synthetic data lack the seed column(s) {', '.join(map(repr, missing))}")
    real, synth = _align(seed_data.unique(), synthetic.select(seed_data.columns))
    return synth.join(real, on=seed_data.columns, how="semi", nulls_equal=True).height


def learn_population(
    seed_data: pl.DataFrame,
    *,
    size: int,
    seed: int,
    synthesizer: Synthesizer = "gaussian_copula",
    conditions: pl.DataFrame | None = None,
    max_copy_rate: float | None = None,
    epochs: int | None = None,
) -> pl.DataFrame:
    """Fit an SDV synthesizer to ``seed_data`` and draw ``size`` virtual patients from it.

    Parameters
    ----------
    seed_data
        Real patients, one row each (see :func:`load_seed_data` and :func:`column_sdtypes`).
    size
        How many virtual patients to draw.
    seed
        Everything random comes from it: the same seed gives the same population, bit for bit,
        and different seeds give different populations (SDV's own fixed sampling seed is
        replaced). Fitting CTGAN/TVAE is seeded too.
    synthesizer
        ``"gaussian_copula"`` (fits 10^3 seed rows in under a second; samples about 7*10^4 rows/s
        with conditions, 1.4*10^5 without, on two cores), ``"ctgan"`` or ``"tvae"`` (neural
        networks: minutes to fit on a CPU at the default 300 epochs).
    conditions
        Columns of the seed data whose values are already decided, ``size`` rows in the order of
        the output (typically the backbone's ``race_ethnicity`` and ``sex``). Row *i* of the result
        has exactly the values of row *i* here, and the other columns are drawn from the
        synthesizer conditioned on them (SDV's ``sample_remaining_columns``, which groups equal
        condition rows and samples each group in one go). Categorical conditions must use levels
        present in the seed data.
    max_copy_rate
        If given, refuse (:class:`PrivacyError`) a population in which more than this share of
        rows are exact copies of a seed-data row (see :func:`count_copies`).
    epochs
        Training epochs for ``"ctgan"`` and ``"tvae"`` (SDV's default: 300).

    Returns
    -------
    polars.DataFrame
        ``size`` rows: the condition columns first, as given, then the other seed columns in
        the seed's order and types.

    Raises
    ------
    ValueError
        For arguments that cannot work (the message says which and why).
    PrivacyError
        If ``max_copy_rate`` is exceeded.

    Examples
    --------
    >>> seed_data = load_seed_data("cohorts/seeds/kidney_transplant.csv")
    >>> backbone = pl.DataFrame({"race_ethnicity": ["Black", "White", "White"], "sex": ["F", "M", "F"]})
    >>> people = learn_population(seed_data, size=3, seed=7, conditions=backbone, max_copy_rate=0.0)
    >>> people.columns
    ['race_ethnicity', 'sex', 'age', 'time', 'death']
    >>> people.select("race_ethnicity", "sex").equals(backbone)
    True
    """
    if synthesizer not in SYNTHESIZERS:
        raise ValueError(f"unknown synthesizer {synthesizer!r}; choose one of {', '.join(SYNTHESIZERS)}")
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"size must be a positive whole number of patients, got {size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if max_copy_rate is not None and not 0.0 <= max_copy_rate <= 1.0:
        raise ValueError(f"max_copy_rate is a share between 0 and 1, got {max_copy_rate!r}")
    if epochs is not None:
        if synthesizer == "gaussian_copula":
            raise ValueError("epochs applies to the ctgan and tvae synthesizers, not gaussian_copula")
        if isinstance(epochs, bool) or not isinstance(epochs, int | np.integer) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if seed_data.height < 2:
        raise ValueError(f"a synthesizer needs at least 2 seed rows, got {seed_data.height}")
    sdtypes = column_sdtypes(seed_data)
    if conditions is not None:
        _validate_conditions(seed_data, conditions, size, sdtypes)

    fit_seed, model_seed, transformer_seed = (int(s) for s in np.random.SeedSequence(int(seed)).generate_state(3))
    model = _fit(_to_pandas(seed_data), sdtypes, synthesizer, epochs, fit_seed)
    _seed_sampling(model, model_seed, transformer_seed)

    with _quiet():
        if conditions is None:
            drawn = model.sample(size)[TABLE]
        else:
            known = _to_pandas(conditions.cast({name: seed_data.schema[name] for name in conditions.columns}))
            drawn = model.sample_remaining_columns(known)[TABLE]
    if len(drawn) != size:
        raise RuntimeError(
            f"the {synthesizer} synthesizer produced {len(drawn):,} of the {size:,} rows asked for; with "
            "ctgan/tvae a rare condition can defeat SDV's rejection sampling: train longer (epochs) "
            "or use gaussian_copula, which conditions exactly"
        )
    drawn = drawn.reset_index(drop=True)
    given = list(conditions.columns) if conditions is not None else []
    rest = [name for name in seed_data.columns if name not in given]
    sampled = pl.from_pandas(drawn[rest]).cast(dict(seed_data.select(rest).schema), strict=False)
    population = pl.concat([conditions, sampled], how="horizontal") if conditions is not None else sampled

    if max_copy_rate is not None:
        copies = count_copies(seed_data, population)
        if copies / size > max_copy_rate:
            raise PrivacyError(copies=copies, rows=size, max_copy_rate=max_copy_rate)
    return population


def _split(
    seed_data: pl.DataFrame, group_columns: Sequence[str], holdout_fraction: float, rng: np.random.Generator
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A training and a holdout split, stratified by the groups so each group is in training."""
    if group_columns:
        cells = seed_data.with_row_index("__row").group_by(list(group_columns), maintain_order=True).agg("__row")
        rows_per_cell = cells["__row"].to_list()
    else:
        rows_per_cell = [list(range(seed_data.height))]
    holdout: list[int] = []
    for rows in rows_per_cell:
        rows = rng.permutation(np.asarray(rows))
        # Keep at least one patient of every group for training, so the refit knows the group.
        take = min(int(round(holdout_fraction * len(rows))), len(rows) - 1)
        holdout.extend(rows[:take].tolist())
    mask = np.zeros(seed_data.height, dtype=bool)
    mask[holdout] = True
    return seed_data.filter(~pl.Series(mask)), seed_data.filter(pl.Series(mask))


def _quality(real: pl.DataFrame, synthetic: pl.DataFrame, sdtypes: dict[str, str]) -> dict[str, float | None]:
    """SDMetrics' QualityReport, with every column pair scored (see :func:`fidelity_report`)."""
    from sdmetrics.reports import QualityReport

    report = QualityReport()
    # SDMetrics (0.32 here) by default scores only pairs the *real* data associate strongly
    # (|r| > 0.5, Cramér's V > 0.3); in a small clinical table that can be no pair at all
    # (kidney_transplant: none), leaving the overall score as column shapes alone. Scoring every
    # pair keeps the outcome associations (time with death, age with death) in the score.
    report.real_correlation_threshold = 0
    report.real_association_threshold = 0
    with _quiet():
        report.generate({TABLE: _to_pandas(real)}, {TABLE: _to_pandas(synthetic)}, _metadata(sdtypes), verbose=False)
    properties = report.get_properties().set_index("Property")["Score"]

    def number(value: Any) -> float | None:
        return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)

    return {
        "overall": number(report.get_score()),
        "column_shapes": number(properties.get("Column Shapes")),
        "column_pair_trends": number(properties.get("Column Pair Trends")),
    }


def _encode(frame: pl.DataFrame, train: pl.DataFrame, sdtypes: dict[str, str]) -> np.ndarray:
    """Rows as points: numbers standardised on ``train``, categories one-hot (see below)."""
    parts: list[np.ndarray] = []
    for name, kind in sdtypes.items():
        if kind == "numerical":
            reference = train[name].cast(pl.Float64)
            present = reference.drop_nulls()
            mean = float(present.mean()) if present.len() else 0.0
            scale = float(present.std()) if present.len() > 1 else 0.0
            scale = scale if scale > 0 else 1.0
            values = frame[name].cast(pl.Float64)
            parts.append(((values.fill_null(mean) - mean) / scale).to_numpy()[:, None])
            if train[name].null_count() or frame[name].null_count():
                parts.append(values.is_null().cast(pl.Float64).to_numpy()[:, None])
        else:
            levels = train[name].cast(pl.String).fill_null("\0missing").unique().sort().to_list()
            values = frame[name].cast(pl.String).fill_null("\0missing").to_numpy()
            parts.append(np.stack([values == level for level in levels], axis=1).astype(float) / math.sqrt(2))
    return np.hstack(parts)


def distance_to_closest_record(rows: pl.DataFrame, reference: pl.DataFrame) -> np.ndarray:
    """For each of ``rows``, the distance to the nearest row of ``reference``.

    Rows are points: each numerical column (see :func:`column_sdtypes` of ``reference``) is
    standardised with the reference's mean and standard deviation (a missing number gets the
    mean and a 0/1 missing indicator), and each categorical column is one-hot encoded over the
    reference's levels and scaled by 1/sqrt(2), so that a different category adds exactly 1 to
    the squared distance, as much as one standard deviation does. Distances are Euclidean,
    found with ``scipy.spatial.cKDTree``.

    Examples
    --------
    >>> reference = pl.DataFrame({"age": [40.0, 60.0], "sex": ["F", "M"]})  # sd of age: 14.14
    >>> distance_to_closest_record(pl.DataFrame({"age": [40.0, 50.0], "sex": ["F", "F"]}), reference).round(3)
    array([0.   , 0.707])
    """
    from scipy.spatial import cKDTree

    sdtypes = column_sdtypes(reference)
    missing = [name for name in reference.columns if name not in rows.columns]
    if missing:
        raise ValueError(f"the rows lack the reference column(s) {', '.join(map(repr, missing))}")
    tree = cKDTree(_encode(reference, reference, sdtypes))
    return tree.query(_encode(rows, reference, sdtypes), k=1)[0]


def fidelity_report(
    seed_data: pl.DataFrame,
    synthetic: pl.DataFrame,
    *,
    group_columns: Sequence[str],
    holdout_fraction: float = 0.3,
    seed: int = 0,
    synthesizer: Synthesizer = "gaussian_copula",
    epochs: int | None = None,
) -> dict[str, Any]:
    """How faithful to, and how private about, the seed data a learned population is.

    Parameters
    ----------
    seed_data
        The real patients the population was learned from.
    synthetic
        The learned population (extra columns, e.g. ones the cohort spec added, are ignored).
    group_columns
        Categorical columns to report quality within (e.g. ``["race_ethnicity", "sex"]``).
    holdout_fraction
        Share of seed patients held out for the distance check (stratified by group).
    seed
        Seeds the holdout split, the subsamples and the refit; the report is reproducible.
    synthesizer, epochs
        The kind of synthesizer that made ``synthetic``, refitted on the training split for the
        distance check (see below).

    Returns
    -------
    dict
        ``quality``: SDMetrics ``QualityReport`` scores of ``synthetic`` against ``seed_data``:
        ``overall``, ``column_shapes``, ``column_pair_trends``, and ``synthetic_rows_scored``. Every
        column pair is scored (``real_correlation_threshold`` and ``real_association_threshold`` set
        to 0; by default SDMetrics skips weakly associated pairs, which on small clinical tables can
        be all of them). Populations above :data:`REPORT_MAX_ROWS` rows are scored on a seeded
        subsample. When the backbone's demographic shares differ from the seed's on purpose, the
        shapes of those columns differ too and lower this score; the per-group scores do not
        have that problem.

        ``by_group``: ``{column: {level: {"overall", "column_shapes", "column_pair_trends",
        "n_real", "n_synthetic"}}}`` for each group column, and, with several group columns, their
        crossing under the key ``"race_ethnicity & sex"`` with levels like ``"Black & F"``. Each
        entry is the same QualityReport run on that group's rows of both tables, without the
        grouping column(s) themselves (constant within a group, they would only pad the score).
        A level present in one table only is listed with ``None`` scores. Read a group's score with
        its ``n_real``: a few dozen real patients are a noisy yardstick (two real samples of that
        size do not score 1 against each other either).

        ``privacy``: ``copies`` and ``copy_rate`` (rows of ``synthetic`` identical to a seed row,
        :func:`count_copies`); ``new_row_synthesis`` (SDMetrics' ``NewRowSynthesis``: the share of
        rows matching no real row, numbers within 1%, on a seeded subsample of
        :data:`NEW_ROW_SYNTHESIS_ROWS` rows); and the distance to closest record (DCR). For the DCR
        the seed data are split into training and holdout patients, the same kind of synthesizer
        is fitted on the training split only (with :func:`learn_population`, conditioned on the
        group columns of up to :data:`DCR_ROWS` synthetic rows), and rows are compared as points
        (numbers standardised on the training split, categories one-hot, a different category
        counting as one standard deviation; nearest neighbours by ``scipy.spatial.cKDTree``):
        ``dcr_synthetic_to_train_median`` (refitted synthetic rows to the training rows) against
        ``dcr_holdout_to_train_median`` (new real patients to the same training rows), and
        ``dcr_ratio``, their quotient: about 1 or more means synthetic rows are no closer to the
        patients the model saw than unseen patients are; well below 1 means memorisation.
        ``dcr_synthetic_to_train_zero_share`` and ``dcr_holdout_to_train_zero_share`` are the shares
        at distance 0 (exact repeats of a training patient; real data repeat too).
        ``dcr_overfitting_protection`` is SDMetrics' ``DCROverfittingProtection`` on the same
        split, with as many training as holdout patients (1 = no sign of overfitting).
        ``n_train``, ``n_holdout``, ``n_refit`` give the sizes. Note that the DCR describes the
        synthesizer on this seed data, not the particular rows of ``synthetic``, which were drawn
        from a fit that saw every seed patient; the copy rate and NewRowSynthesis describe them.

        ``n_real`` and ``n_synthetic``: the sizes of the two tables.

    Examples
    --------
    >>> seed_data = load_seed_data("cohorts/seeds/kidney_transplant.csv")
    >>> people = learn_population(seed_data, size=200, seed=1)
    >>> report = fidelity_report(seed_data, people, group_columns=["sex"])
    >>> sorted(report["by_group"]["sex"]), report["privacy"]["copies"]
    (['F', 'M'], 0)
    """
    from sdmetrics.single_table import NewRowSynthesis
    from sdmetrics.single_table.privacy import DCROverfittingProtection

    group_columns = list(group_columns)
    if not 0.0 < holdout_fraction < 1.0:
        raise ValueError(f"holdout_fraction is a share strictly between 0 and 1, got {holdout_fraction!r}")
    if seed_data.height < 4:
        raise ValueError(f"a fidelity report needs at least 4 seed rows, got {seed_data.height}")
    sdtypes = column_sdtypes(seed_data)
    missing = [name for name in seed_data.columns if name not in synthetic.columns]
    if missing:
        raise ValueError(
            f"the synthetic data lack the seed column(s) {', '.join(map(repr, missing))}; "
            f"they have {', '.join(synthetic.columns)}"
        )
    for name in group_columns:
        if name not in sdtypes:
            raise ValueError(f"group column {name!r} is not a seed column ({', '.join(seed_data.columns)})")
        if sdtypes[name] == "numerical":
            raise ValueError(f"group column {name!r} is numerical; group by a categorical column (e.g. an age group)")
    synthetic = synthetic.select(seed_data.columns)
    if synthetic.schema != seed_data.schema:
        seed_data, synthetic = _align(seed_data, synthetic)
    split_ss, subsample_ss, nrs_ss, refit_ss = np.random.SeedSequence(int(seed)).spawn(4)

    scored = synthetic
    if synthetic.height > REPORT_MAX_ROWS:
        scored = synthetic.sample(REPORT_MAX_ROWS, seed=int(subsample_ss.generate_state(1)[0]))
    quality = _quality(seed_data, scored, sdtypes) | {"synthetic_rows_scored": scored.height}

    by_group: dict[str, dict[str, dict[str, Any]]] = {}
    groupings = [[name] for name in group_columns]
    if len(group_columns) > 1:
        groupings.append(group_columns)
    for columns in groupings:
        label = pl.concat_str(
            [pl.col(name).cast(pl.String).fill_null("(missing)") for name in columns], separator=" & "
        )
        real_labelled = seed_data.with_columns(label.alias("__group"))
        synth_labelled = scored.with_columns(label.alias("__group"))
        synth_counts = dict(synthetic.group_by(label.alias("__group")).len().iter_rows())
        levels = sorted(set(real_labelled["__group"].to_list()) | set(synth_counts))
        others = {name: kind for name, kind in sdtypes.items() if name not in columns}
        entries: dict[str, dict[str, Any]] = {}
        for level in levels:
            real_rows = real_labelled.filter(pl.col("__group") == level).select(list(others))
            synth_rows = synth_labelled.filter(pl.col("__group") == level).select(list(others))
            if real_rows.height >= 2 and synth_rows.height >= 2:
                scores = _quality(real_rows, synth_rows, others)
            else:
                scores = {"overall": None, "column_shapes": None, "column_pair_trends": None}
            entries[level] = scores | {"n_real": real_rows.height, "n_synthetic": int(synth_counts.get(level, 0))}
        by_group[" & ".join(columns)] = entries

    copies = count_copies(seed_data, synthetic)
    nrs_sample = synthetic
    if synthetic.height > NEW_ROW_SYNTHESIS_ROWS:
        nrs_sample = synthetic.sample(NEW_ROW_SYNTHESIS_ROWS, seed=int(nrs_ss.generate_state(1)[0]))
    with _quiet():
        new_rows = NewRowSynthesis.compute(
            _to_pandas(seed_data), _to_pandas(nrs_sample), _metadata(sdtypes)["tables"][TABLE]
        )

    rng = np.random.default_rng(split_ss)
    train, holdout = _split(seed_data, group_columns, holdout_fraction, rng)
    refit_size = min(synthetic.height, DCR_ROWS)
    refit_rows = synthetic.sample(refit_size, seed=int(rng.integers(2**32))) if group_columns else None
    refit = learn_population(
        train,
        size=refit_size,
        seed=int(refit_ss.generate_state(1)[0]),
        synthesizer=synthesizer,
        conditions=refit_rows.select(group_columns) if refit_rows is not None else None,
        epochs=epochs,
    ).select(seed_data.columns)
    synth_distance = distance_to_closest_record(refit, train)
    holdout_distance = distance_to_closest_record(holdout, train)
    synth_median, holdout_median = float(np.median(synth_distance)), float(np.median(holdout_distance))
    # SDMetrics asks, per synthetic row, "closer to a training or to a holdout patient?"; that is
    # only fair between reference sets of one size, so it sees as many training as holdout rows.
    with _quiet():
        overfitting = DCROverfittingProtection.compute(
            _to_pandas(train.sample(holdout.height, seed=int(rng.integers(2**32)))),
            _to_pandas(refit.sample(min(refit.height, 1_000), seed=int(rng.integers(2**32)))),
            _to_pandas(holdout),
            _metadata(sdtypes),
            TABLE,
        )

    privacy = {
        "copies": copies,
        "copy_rate": copies / synthetic.height,
        "new_row_synthesis": float(new_rows),
        "new_row_synthesis_rows": nrs_sample.height,
        "dcr_synthetic_to_train_median": synth_median,
        "dcr_holdout_to_train_median": holdout_median,
        "dcr_ratio": synth_median / holdout_median if holdout_median > 0 else None,
        "dcr_synthetic_to_train_zero_share": float(np.mean(synth_distance == 0)),
        "dcr_holdout_to_train_zero_share": float(np.mean(holdout_distance == 0)),
        "dcr_overfitting_protection": float(overfitting),
        "n_train": train.height,
        "n_holdout": holdout.height,
        "n_refit": refit.height,
    }
    return {
        "quality": quality,
        "by_group": by_group,
        "privacy": privacy,
        "n_real": seed_data.height,
        "n_synthetic": synthetic.height,
    }


def format_report(report: dict[str, Any]) -> str:
    """The fidelity and privacy report of :func:`fidelity_report` as text for a terminal.

    Examples
    --------
    >>> report = {
    ...     "quality": {"overall": 0.96, "column_shapes": 0.98, "column_pair_trends": 0.94},
    ...     "by_group": {"sex": {"F": {"overall": 0.93, "column_shapes": 0.95, "column_pair_trends": 0.91,
    ...                                 "n_real": 339, "n_synthetic": 390}}},
    ...     "privacy": {"copies": 0, "copy_rate": 0.0, "new_row_synthesis": 0.99},
    ...     "n_real": 863, "n_synthetic": 1000,
    ... }
    >>> print(format_report(report))  # doctest: +NORMALIZE_WHITESPACE
    Fidelity (SDMetrics QualityReport, every column pair scored)
      overall 0.960   column shapes 0.980   column pair trends 0.940   (863 real rows, 1,000 synthetic)
    By group                     n real  n synthetic  overall  shapes   pairs
      sex = F                       339          390    0.930   0.950   0.910
    Privacy
      exact copies of a seed row       0 of 1,000 (0.00%)
      NewRowSynthesis (SDMetrics)      0.990 of rows match no real row
    """

    def score(value: float | None) -> str:
        return "    -" if value is None else f"{value:.3f}"

    quality = report["quality"]
    n_real, n_synthetic = report.get("n_real"), report.get("n_synthetic")
    sizes = f"   ({n_real:,} real rows, {n_synthetic:,} synthetic)" if n_real is not None and n_synthetic else ""
    lines = [
        "Fidelity (SDMetrics QualityReport, every column pair scored)",
        f"  overall {score(quality['overall'])}   column shapes {score(quality['column_shapes'])}   "
        f"column pair trends {score(quality['column_pair_trends'])}{sizes}",
    ]
    groups = report.get("by_group") or {}
    if groups:
        width = max(len(f"{column} = {level}") for column, levels in groups.items() for level in levels) + 2
        width = max(width, 26)
        lines.append(
            f"{'By group':<{width + 1}}{'n real':>7}{'n synthetic':>13}{'overall':>9}{'shapes':>8}{'pairs':>8}"
        )
        for column, levels in groups.items():
            for level, entry in levels.items():
                name = f"{column} = {level}"
                lines.append(
                    f"  {name:<{width - 1}}{entry['n_real']:>7,}{entry['n_synthetic']:>13,}"
                    f"{score(entry['overall']):>9}{score(entry['column_shapes']):>8}{score(entry['column_pair_trends']):>8}"
                )
    privacy = report["privacy"]
    rows = report.get("n_synthetic") or 0
    lines += [
        "Privacy",
        f"  exact copies of a seed row     {privacy['copies']:>5,} of {rows:,} ({privacy['copy_rate']:.2%})",
        f"  NewRowSynthesis (SDMetrics)    {score(privacy['new_row_synthesis'])} of rows match no real row",
    ]
    if "dcr_synthetic_to_train_median" in privacy:
        ratio = privacy.get("dcr_ratio")
        verdict = (
            "undefined (holdout patients duplicate training patients)"
            if ratio is None
            else f"{ratio:.2f}" + ("  (below 0.8: synthetic rows hug the training patients)" if ratio < 0.8 else "")
        )
        lines += [
            "  distance to closest training record, median "
            f"(refit on {privacy['n_train']:,} training patients, {privacy['n_holdout']:,} held out):",
            f"    synthetic {privacy['dcr_synthetic_to_train_median']:.3f}   "
            f"holdout {privacy['dcr_holdout_to_train_median']:.3f}   ratio {verdict}",
            f"  DCROverfittingProtection (SDMetrics) {score(privacy['dcr_overfitting_protection'])}",
        ]
    return "\n".join(lines)
