"""Data for the two tasks of the paper: single-location regression and associative recall."""

from .regression import SingleLocationRegression, check_sizes, teacher_matrix

__all__ = ["SingleLocationRegression", "check_sizes", "teacher_matrix"]
