"""Analysis: run records -> the book's numbers, the paper's values and verdicts.

- :mod:`.paper`: the paper's reported laws, each with its source and a note where the text is
  ambiguous. Chapters, scorecards and views read the paper's numbers from there.
- :mod:`.verdicts`: the one rule that turns an estimate and its standard error into a direction.
- :mod:`.ablation`: the open-choice ablation at the paper's width (chapter 3's companion page).
- :mod:`.width`: the Fig. 3 exponents against model width on the cells every width trained.
- :mod:`.recall`: paired speed-ups under repetition and the late rise of test accuracy (Figs. 5, 16).
- :mod:`.tuning`: the learning rate tuned per p on the shortest mean plateau (App. D.3).
"""
