"""Checkers for the chapters' exercises: the reader's answer against the library's own reference.

Each checker prints one line (``Correct: ...``, ``Not yet: ...`` with the input, expected vs got
and a hint, or ``Not attempted yet: ...``) and returns it as a
:class:`~sparse_attention_lab.exercises.verdict.Verdict`. One module per chapter:

- :mod:`~sparse_attention_lab.exercises.introduction` (introduction)
- :mod:`~sparse_attention_lab.exercises.toy_model` (chapter 1)
- :mod:`~sparse_attention_lab.exercises.repetition` (chapter 2)
- :mod:`~sparse_attention_lab.exercises.transformers` (chapter 3)
- :mod:`~sparse_attention_lab.exercises.associative_recall` (chapter 4)
- :mod:`~sparse_attention_lab.exercises.beyond` (chapter 5)
"""

from sparse_attention_lab.exercises.verdict import Verdict

__all__ = ["Verdict"]
