"""Figure helpers shared by the chapters (matplotlib only; each returns the axes it drew on)."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes

from sparse_attention_lab.fitting import PowerLawFit
from sparse_attention_lab.theory.reduced import Trajectory
from sparse_attention_lab.views.style import book_figure, panels


@book_figure
def plot_trajectory(
    trajectory: Trajectory,
    axes: list[Axes] | None = None,
    label: str | None = None,
    optima: tuple[float, float] | None = None,
    **line_kwargs,
) -> list[Axes]:
    """Three panels against gradient-flow time: loss, ``w`` (and ``w1``), ``alpha`` (Fig. 1a, 1b, 10).

    ``optima = (w_star, alpha_star)`` draws the optimum of each as a dashed line; the test
    loss is drawn dotted when it differs from the training loss.
    """
    if axes is None:
        axes = panels(3)[1]
    t = trajectory.times
    (line,) = axes[0].plot(t, trajectory.loss, label=label, **line_kwargs)
    if not np.allclose(trajectory.test_loss, trajectory.loss):
        axes[0].plot(t, trajectory.test_loss, ":", color=line.get_color())
    axes[1].plot(t, trajectory.w, color=line.get_color(), **line_kwargs)
    if np.any(trajectory.w1):
        axes[1].plot(t, trajectory.w1, "--", color=line.get_color(), alpha=0.7)
    axes[2].plot(t, trajectory.alpha, color=line.get_color(), **line_kwargs)
    if optima is not None:
        for ax, value in zip(axes[1:], optima, strict=True):
            ax.axhline(value, color="gray", ls="--", lw=1)
    for ax, name in zip(axes, ("loss", "alignment $w$", r"attention $\alpha$"), strict=True):
        ax.set_xlabel("gradient-flow time")
        ax.set_ylabel(name)
    return axes


def plot_power_law(
    ax: Axes, x: np.ndarray, y: np.ndarray, fit: PowerLawFit, feature: str, **fixed: float
) -> Axes:
    """Measured points ``y`` against feature ``x`` with the fitted law, on log-log axes (Fig. 1c, 2, 3).

    ``fixed`` gives the values of the fit's other features along this line.
    """
    (points,) = ax.loglog(x, y, "o", ms=4)
    grid = np.geomspace(np.min(x), np.max(x), 50)
    ax.loglog(grid, fit.predict(**{feature: grid}, **fixed), "-", color=points.get_color(), lw=1)
    return ax
