"""The model promotion gate: a stack may only serve model versions whose evaluation passes the thresholds.

Model metadata lives in the repository, reviewed like code:

- `models/<name>/<version>.json`: where the weights come from (source and revision), the sha256 of the weights
  manifest, and the evaluation results of that exact version (see docs/delivery.md for the format); it certifies
  that source at that revision only;
- `models/thresholds.json`: the minimum (or maximum) each metric must reach, by default and per model.

The gate runs as a cross-field config rule, so `ai-serving plan` and `pulumi preview`/`up` stop before declaring
anything, with one line per problem naming the model, the metric, its value and the threshold. Everything here
is a pure function of the served models and the files under the repository directory given.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Protocol

from pydantic import Field, ValidationError, model_validator

from infra.config.base import ConfigProblem, StrictModel, key_path
from infra.input_files import InputFileError, load_strict

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = "models"
THRESHOLDS_FILE = f"{MODELS_DIR}/thresholds.json"
ALLOW_KEY = key_path("modelGate", "allowUnevaluatedModels")


class ServedModel(Protocol):
    """What the gate needs of a served model in the stack config."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def revision(self) -> str | None: ...


class Threshold(StrictModel):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Threshold:
        if self.min is None and self.max is None:
            raise ValueError("a threshold needs min, max or both")
        return self

    def violation(self, value: float) -> str | None:
        if self.min is not None and value < self.min:
            return f"is below the threshold {self.min:g}"
        if self.max is not None and value > self.max:
            return f"is above the threshold {self.max:g}"
        return None


class Thresholds(StrictModel):
    description: str = ""
    # Metric name -> threshold, for every model.
    default: dict[str, Threshold]
    # Model name -> metric name -> threshold; overrides or adds to the defaults for that model.
    models: dict[str, dict[str, Threshold]] = {}

    def for_model(self, name: str) -> dict[str, Threshold]:
        return {**self.default, **self.models.get(name, {})}


class Evaluation(StrictModel):
    harness: Annotated[str, Field(min_length=1)]
    evaluated_at: date
    # Metric name -> score (accuracies as fractions 0..1).
    results: Annotated[dict[str, float], Field(min_length=1)]


class ModelRecord(StrictModel):
    model: str
    version: str
    # The weights that were evaluated, written as in the stack config: a Hugging Face id with its revision, or
    # an S3 prefix. An evaluation holds for this source at this revision only: the gate refuses a served model
    # whose source or revision differs. `revision` is required; null says the evaluation ran on whatever the
    # default branch was then (or on an S3 prefix), which only an unpinned staging model matches.
    source: Annotated[str, Field(min_length=3)]
    revision: str | None
    # sha256 of the weights manifest: the sorted `sha256sum` listing of every file of the model directory.
    weights_manifest_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    # None while the version has not been evaluated yet.
    evaluation: Evaluation | None = None
    # Free text; example records say so here.
    note: str = ""


def record_path(repo_dir: Path, name: str, version: str) -> Path:
    return repo_dir / MODELS_DIR / name / f"{version}.json"


def _relative(path: Path, repo_dir: Path) -> str:
    return str(path.relative_to(repo_dir))


def load_thresholds(repo_dir: Path) -> Thresholds | ConfigProblem:
    path = repo_dir / THRESHOLDS_FILE
    try:
        if not path.is_file():
            return ConfigProblem(THRESHOLDS_FILE, None, "the model gate needs this file (metric thresholds); see docs/delivery.md")
        return Thresholds.model_validate(load_strict(path, THRESHOLDS_FILE))
    except InputFileError as err:
        return ConfigProblem(THRESHOLDS_FILE, "<invalid>", f"not a valid thresholds file: {'; '.join(err.problems)}")
    except ValidationError as err:
        return ConfigProblem(THRESHOLDS_FILE, "<invalid>", f"not a valid thresholds file: {_first_line(err)}")


def load_record(repo_dir: Path, name: str, version: str) -> ModelRecord | str | None:
    """The record of one model version: the record, None when there is none, or why it is invalid."""
    path = record_path(repo_dir, name, version)
    if not path.resolve().is_relative_to((repo_dir / MODELS_DIR).resolve()):
        return "name and version must not leave the models/ directory"
    if not path.is_file():
        return None
    try:
        record = ModelRecord.model_validate(load_strict(path, _relative(path, repo_dir)))
    except InputFileError as err:
        return f"not a valid model record: {'; '.join(err.problems)}"
    except ValidationError as err:
        return f"{_relative(path, repo_dir)} is not a valid model record: {_first_line(err)}"
    if (record.model, record.version) != (name, version):
        return f"{_relative(path, repo_dir)} describes {record.model}@{record.version}, not {name}@{version}"
    return record


def _weights(source: str, revision: str | None) -> str:
    return f"{source}@{revision}" if revision else source


def _first_line(err: Exception) -> str:
    if isinstance(err, ValidationError):
        e = err.errors()[0]
        return f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
    return str(err).splitlines()[0]


def evaluation_problems(record: ModelRecord, thresholds: dict[str, Threshold]) -> list[str]:
    """Each metric the thresholds require that the record's evaluation lacks or fails (empty: it passes)."""
    assert record.evaluation is not None
    results = record.evaluation.results
    problems = []
    for metric, threshold in sorted(thresholds.items()):
        if metric not in results:
            problems.append(f"evaluation lacks metric {metric}, which {THRESHOLDS_FILE} requires")
            continue
        violation = threshold.violation(results[metric])
        if violation:
            problems.append(f"metric {metric} = {results[metric]:g} {violation} ({THRESHOLDS_FILE})")
    return problems


def gate_problems(models: Sequence[ServedModel], repo_dir: Path, allow_unevaluated: bool) -> list[ConfigProblem]:
    """One problem per served model version that may not be promoted: no record (unless unevaluated models are
    allowed), an invalid record, or a metric missing or past its threshold."""
    if not models:
        return []
    thresholds = load_thresholds(repo_dir)
    if isinstance(thresholds, ConfigProblem):
        return [thresholds]
    problems: list[ConfigProblem] = []
    for i, model in enumerate(models):
        path, subject = key_path("models", i, "version"), f"model {model.name} version {model.version}"
        record = load_record(repo_dir, model.name, model.version)
        if isinstance(record, str):
            problems.append(ConfigProblem(path, model.version, f"{subject}: {record}"))
            continue
        if record is None or record.evaluation is None:
            if not allow_unevaluated:
                where = _relative(record_path(repo_dir, model.name, model.version), repo_dir)
                what = "has no evaluation record" if record is None else "has a record without evaluation results"
                problems.append(
                    ConfigProblem(
                        path,
                        model.version,
                        f"{subject} {what} ({where}); serve an evaluated version that passes {THRESHOLDS_FILE}"
                        f" (staging only: {ALLOW_KEY}: true lets unevaluated versions through)",
                    )
                )
            continue
        if (record.source, record.revision) != (model.source, model.revision):
            evaluated, served = _weights(record.source, record.revision), _weights(model.source, model.revision)
            problems.append(
                ConfigProblem(
                    path,
                    model.version,
                    f"{subject}: the record evaluated {evaluated} but the stack serves {served}; serve the evaluated source and"
                    " revision, or evaluate the served ones under a new version",
                )
            )
            continue
        for failure in evaluation_problems(record, thresholds.for_model(model.name)):
            problems.append(ConfigProblem(path, model.version, f"{subject}: {failure}"))
    return problems


def stack_problems(tier: str, models: Sequence[ServedModel], allow_unevaluated: bool, repo_dir: Path | None = None) -> list[ConfigProblem]:
    """The gate as a stack rule: production may not let unevaluated models through."""
    problems: list[ConfigProblem] = []
    if allow_unevaluated and tier == "production":
        problems.append(ConfigProblem(ALLOW_KEY, True, "production may not serve unevaluated models; remove the key or set it to false"))
        allow_unevaluated = False
    return problems + gate_problems(models, repo_dir or REPO_ROOT, allow_unevaluated)
