"""Reduced gradient-flow dynamics (sparse_attention_lab.theory.reduced), PAPER.md sections 4 and 5."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from sparse_attention_lab.fitting import fit_power_law
from sparse_attention_lab.theory import reduced as dy
from sparse_attention_lab.theory.toy import expected_loss


def reference_plateau(T, d, B=1, p=0.0, threshold=0.2):
    """Independent check: DOP853 (rtol 1e-10) in plain time on the paper's gradients as written."""
    if p == 0:
        def rhs(t, y):
            return [-g for g in dy.reduced_gradient(y[0], y[1], T, d, B)]

        def test_loss(y):
            return dy.reduced_loss(y[0], y[1], T, d, B)
        y0 = [0.0, 0.0]
    else:
        def rhs(t, y):
            return [-g for g in dy.repetition_gradient(y[0], y[1], y[2], T, d, p)]

        def test_loss(y):
            return dy.repetition_loss(y[0], y[1], y[2], T, d, 0.0)
        y0 = [0.0, 0.0, 0.0]

    def crossing(t, y):
        return test_loss(y) - threshold * 0.5

    crossing.terminal = True
    horizon = 20 / dy.linear_rate(T, d, B, p)
    solution = solve_ivp(rhs, (0, horizon), y0, method="DOP853", rtol=1e-10, atol=1e-13, events=crossing)
    return solution.t_events[0][0]


@pytest.mark.parametrize(
    "T, d, B, p, threshold",
    [(64, 16, 1, 0.0, 0.2), (4096, 512, 1, 0.0, 0.2), (4096, 16, 8, 0.0, 0.2), (1000, 100, 3, 0.0, 0.5),
     (256, 64, 1, 0.5, 0.2), (512, 32, 1, 0.9, 0.2), (128, 256, 1, 0.1, 0.4)],
)
def test_plateau_length_matches_an_independent_solver(T, d, B, p, threshold):
    assert dy.plateau_length(T, d, B, p, threshold) == pytest.approx(reference_plateau(T, d, B, p, threshold), rel=1e-5)


def test_plateau_lengths_on_a_grid_equal_single_calls_and_trajectories():
    T, d = np.meshgrid([64, 256, 1024], [16, 128], indexing="ij")
    grid = dy.plateau_lengths(T, d)
    assert grid.shape == (3, 2)
    assert grid[1, 1] == pytest.approx(dy.plateau_length(256, 128), rel=1e-9)
    # The trajectory integrator (LSODA) and the grid integrator (Dormand-Prince) agree.
    assert dy.reduced_dynamics(256, 128).plateau == pytest.approx(grid[1, 1], rel=1e-5)
    assert dy.reduced_dynamics(256, 16, p=0.3).plateau == pytest.approx(dy.plateau_length(256, 16, p=0.3), rel=1e-5)


def test_p_one_never_escapes_on_the_test_loss():
    assert dy.plateau_length(256, 16, p=1.0) == math.inf


def test_three_variable_loss_reduces_to_two_variable_loss_without_repetition():
    T, d, w, delta = 50, 9, 1.7, 2.3
    two = dy.reduced_loss(w, delta, T, d)
    three = dy.repetition_loss(w / math.sqrt(d), w * math.sqrt((d - 1) / d), delta, T, d, 0.0)
    assert three == pytest.approx(two, rel=1e-12)


@pytest.mark.parametrize("B", [1, 3])
def test_reduced_loss_is_the_exact_loss_on_the_reduced_manifold(B):
    T, d, w, delta = 20, 5, 1.3, 0.8
    W_star = torch.linalg.qr(torch.randn(d, d, dtype=torch.float64))[0]  # unit-norm columns
    a = torch.zeros(T, dtype=torch.float64)
    a[T - B:] = delta
    W = w * W_star / W_star.norm()
    exact = expected_loss(a, W, W_star, range(T - B, T)).item()
    assert dy.reduced_loss(w, delta, T, d, B) == pytest.approx(exact, rel=1e-12)


def test_gradients_match_finite_differences():
    T, d, B, p, x, h = 40, 6, 2, 0.3, np.array([0.7, 1.1, 0.9]), 1e-6
    grad = dy.reduced_gradient(x[1], x[2], T, d, B)
    for i, g in zip((1, 2), grad, strict=True):
        e = np.eye(3)[i] * h
        numeric = (dy.reduced_loss(*(x + e)[1:], T, d, B) - dy.reduced_loss(*(x - e)[1:], T, d, B)) / (2 * h)
        assert g == pytest.approx(numeric, rel=1e-6)
    for i, g in enumerate(dy.repetition_gradient(*x, T, d, p)):
        e = np.eye(3)[i] * h
        numeric = (dy.repetition_loss(*(x + e), T, d, p) - dy.repetition_loss(*(x - e), T, d, p)) / (2 * h)
        assert g == pytest.approx(numeric, rel=1e-6)


@pytest.mark.parametrize("p", [0.0, 0.5])
def test_full_toy_model_flow_matches_the_reduced_flow(p):
    """Gradient flow on the full (a, W) expected loss, B = 1, T = 64.

    It equals the free-score reduction to 1e-4 (loss, w, alpha) and the paper's reduced
    equations up to the factor T/(T-1) on the attention speed: plateau times within 1%.
    """
    T, d = 64, 8
    shared = dy.plateau_length(T, d, p=p)
    times = np.linspace(0, 1.5 * shared, 30)
    full = dy.toy_gradient_flow(T, d, times, p=p)
    free = dy.reduced_dynamics(T, d, p=p, t_max=times[-1], n_points=30, scores="free")
    for name in ("loss", "test_loss", "alpha", "w", "w1"):
        assert np.max(np.abs(getattr(full, name) - getattr(free, name))) < 1e-4, name
    assert full.plateau == pytest.approx(free.plateau, rel=1e-5)
    assert 0 < 1 - full.plateau / shared < 0.01


def test_in_context_repetition_free_scores_scale_as_b_minus_half():
    """PAPER.md "Caution on B > 1": free scores give B^-1/2, the paper's reduction B^-1."""
    T, d, Bs = 128, 8, [1, 2, 4, 8]
    shared = dy.plateau_lengths(T, d, Bs)
    full = [dy.toy_gradient_flow(T, d, [0.0, 1.5 * s * math.sqrt(B)], B=B).plateau for B, s in zip(Bs, shared, strict=True)]
    assert fit_power_law(full, B=Bs).exponents["B"] == pytest.approx(-0.5, abs=0.1)
    assert fit_power_law(shared, B=Bs).exponents["B"] == pytest.approx(-1.0, abs=0.1)
    assert dy.plateau_lengths(T, d, Bs, scores="free") == pytest.approx(full, rel=1e-4)


def test_linearization_matches_the_reduced_flow_early():
    T, d = 1024, 64
    lam = dy.linear_rate(T, d)
    run = dy.reduced_dynamics(T, d, t_max=0.3 / lam, n_points=7)
    w, delta, loss = dy.linearized(run.times, T, d)
    assert run.w == pytest.approx(w, rel=0.03)
    assert run.delta_a[1:] == pytest.approx(delta[1:], rel=0.03)
    assert run.loss == pytest.approx(loss, abs=1e-5)
    low, high = dy.hessian_eigenvalues(0.0, 0.0, T, d)
    assert (low, high) == pytest.approx((-lam, lam), rel=0.1)


def test_repetition_speedup_is_eq_22s_variable_and_the_rate_ratio():
    assert dy.repetition_speedup(64, 0.0) == 1.0 and dy.repetition_speedup(64, 1.0) == pytest.approx(8.0)
    d, p = np.array([16, 64, 256]), np.array([0.1, 0.3, 0.5])
    ratio = [dy.linear_rate(512, di, 1, pi) / dy.linear_rate(512, di) for di, pi in zip(d, p, strict=True)]
    assert dy.repetition_speedup(d, p) == pytest.approx(ratio)


def test_escape_time_has_the_slopes_of_its_asymptotic_form():
    """d ln T_eps / d ln T = 1 + 1/ln(2 eps sqrt(d) T / B); d ln T_eps / d ln d is half that."""
    T, d, eps, h = 1024, 64, 0.8, 1e-3
    log_arg = math.log(2 * eps * math.sqrt(d) * T)
    slope_T = (math.log(dy.escape_time(int(T * (1 + h)), d)) - math.log(dy.escape_time(T, d))) / math.log(int(T * (1 + h)) / T)
    slope_d = (math.log(dy.escape_time(T, 2 * d)) - math.log(dy.escape_time(T, d))) / math.log(2)
    assert slope_T == pytest.approx(1 + 1 / log_arg, abs=0.01)
    assert slope_d == pytest.approx(0.5 + 0.5 / log_arg, abs=0.01)
    # The linearization overestimates the nonlinear plateau (Fig. 7), and B divides the time.
    assert dy.escape_time(T, d) > dy.plateau_length(T, d)
    assert dy.escape_time(T, d, B=4) == pytest.approx(dy.escape_time(T, d) / 4, rel=0.15)


def test_fig1c_grid_exponents():
    T, d = np.meshgrid(2 ** np.arange(6, 13), 2 ** np.arange(4, 10), indexing="ij")
    fit = fit_power_law(dy.plateau_lengths(T, d), T=T, d=d)
    assert fit.exponents["T"] == pytest.approx(0.99, abs=0.03)
    assert fit.exponents["d"] == pytest.approx(0.49, abs=0.03)
    assert fit.r2 > 0.999


def test_w_inf_is_the_equilibrium_of_w():
    T, d, B = 300, 16, 2
    for alpha in (0.05, 0.2, 0.45):
        delta = math.log((T - B) * alpha / (1 - B * alpha))
        assert dy.attention(delta, T, B) == pytest.approx(alpha)
        assert dy.reduced_gradient(dy.w_inf(alpha, T, d, B), delta, T, d, B)[0] == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize(
    "kwargs, name",
    [({"T": 1, "d": 4}, "T"), ({"T": 64.5, "d": 4}, "T"), ({"T": 64, "d": 0}, "d"), ({"T": 64, "d": 4, "B": 64}, "B"),
     ({"T": 64, "d": 4, "p": 1.5}, "p"), ({"T": 64, "d": 4, "p": -0.1}, "p"),
     ({"T": 64, "d": 4, "threshold": 0.0}, "threshold"), ({"T": 64, "d": 4, "threshold": 1.0}, "threshold"),
     ({"T": 64, "d": 4, "p": True}, "p"), ({"T": 64, "d": True}, "d"), ({"T": 64, "d": 4, "threshold": math.nan}, "threshold")],
)
def test_invalid_arguments_raise_value_error_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name} "):
        dy.plateau_length(**kwargs)
    with pytest.raises(ValueError, match=f"^{name} "):
        dy.reduced_dynamics(**kwargs)


@pytest.mark.parametrize("B, p, scores", [(1, 0.0, "shared"), (3, 0.0, "free"), (1, 0.4, "shared"), (2, 0.7, "free")])
def test_scalar_and_vectorized_flows_agree(B, p, scores):
    flow = dy._Flow(100, 16, B, p, scores)
    derivative, test_loss = flow.scalar_functions()
    y = np.array([0.3, 2.1, 1.7])
    assert derivative(0.0, y) == pytest.approx(flow.derivative(y.reshape(3, 1)).ravel(), rel=1e-12)
    assert test_loss(y) == pytest.approx(flow.losses(y.reshape(3, 1))[1][0], rel=1e-12)


def test_escape_time_with_repetition_is_the_linearization():
    assert dy.escape_time(512, 64, 2) == pytest.approx(math.asinh(0.8 * 8 * 256) / (2 / (8 * 256)))
    # p interpolates the rate between the d-dimensional and the 1-dimensional problem.
    rate = math.sqrt(0.5**2 * 64 + 0.5**2) / (8 * 512)
    assert dy.escape_time(512, 64, p=0.5, eps=0.6) == pytest.approx(math.asinh(0.6 / rate) / (2 * rate))
    assert dy.escape_time(512, 64, B=4, scores="free") == pytest.approx(dy.escape_time(512, 64, B=2))
    with pytest.raises(ValueError, match="eps"):
        dy.escape_time(512, 64, eps=1.0)


def test_numpy_integers_are_settings_and_huge_samplings_are_refused():
    """Issue 17 items 4 and 6: n_points = 10^9 fails at once, naming the limit."""
    assert dy.plateau_length(np.int64(64), np.int32(4)) == dy.plateau_length(64, 4)
    with pytest.raises(ValueError, match=r"^n_points is too large: .* above the limit of 536,870,912 elements"):
        dy.reduced_dynamics(64, 4, n_points=10**9)
    with pytest.raises(ValueError, match=r"^n_points must be an integer >= 2, got 2.5"):
        dy.reduced_dynamics(64, 4, n_points=2.5)
    with pytest.raises(ValueError, match=r"^T, d, B, p is too large"):
        dy.plateau_lengths(np.full((10**5, 1), 64), np.full((1, 10**5), 4))
