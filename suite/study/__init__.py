"""Declarative studies: TOML spec -> runs -> executor -> MLflow (see :mod:`suite.study.spec`)."""

from suite.study.runner import find_study, run_study, study_names
from suite.study.spec import StudyError, expand, load

__all__ = ["StudyError", "expand", "find_study", "load", "run_study", "study_names"]
