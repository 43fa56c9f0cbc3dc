"""Analysis: run records -> the book's numbers, the paper's values and verdicts.

- :mod:`.paper`: the paper's reported laws and values, each with its source and a note where the
  text is ambiguous. Chapters, scorecards and views read the paper's numbers from there.
- :mod:`.measurement`: App. D.1's thresholds and the rule that picks a run's threshold and curve
  (imports nothing: every layer may read it).
- :mod:`.verdicts`: the one rule that turns an estimate and its standard error into a direction.
- :mod:`.steps`: escape steps of regression runs as rows (three clocks) and power laws fitted on
  them with a bootstrap over seeds (App. D.1-D.2).
- :mod:`.mechanism`: the lead of the weights over the attention, the heads that end sparse, the
  shortcut under cross-sample repetition (Fig. 1b, Section 2.3, Fig. 12).
- :mod:`.ablation`: the open-choice ablation at the paper's width (chapter 3's companion page).
- :mod:`.width`: the Fig. 3 exponents against model width on the cells every width trained.
- :mod:`.recall`: emergence laws and steps at every threshold, speed-ups under repetition, query
  kinds and the late rise of test accuracy (Figs. 4, 5, 16, 17).
- :mod:`.tuning`: the learning rate tuned per p on the shortest mean plateau (App. D.3).
- :mod:`.regression`: chapter 3's fits (:func:`~.regression.fig3_laws`, Figs. 13-15), conclusions
  and speed-ups.
- :mod:`.scale`: the Fig. 3 exponents against ``T``, ``d`` and the width (local sub-grids, trends).
"""
