"""Data for the two tasks of the paper: single-location regression and associative recall."""

from sparse_attention_lab.tasks.recall import AssociativeRecall, query_slots
from sparse_attention_lab.tasks.regression import (
    SingleLocationRegression,
    check_sizes,
    teacher_matrix,
)

__all__ = ["AssociativeRecall", "SingleLocationRegression", "check_sizes", "query_slots", "teacher_matrix"]
