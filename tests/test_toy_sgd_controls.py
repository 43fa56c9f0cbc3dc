"""The controls of Fig. 9 (chapter 1): train_sgd with the reduced theory's assumptions switched on one by one."""

import numpy as np
import pytest

from sparse_attention_lab.measure import plateau_time
from sparse_attention_lab.theory import reduced
from sparse_attention_lab.training.toy_sgd import train_sgd

T, d, STEPS = 16, 8, 600


def plateaus(run):
    return np.array([plateau_time(run["steps"], loss, 0.2) for loss in run["loss"]])


def test_all_three_controls_give_gradient_descent_on_the_reduced_problem():
    """Full batch, unit-norm teacher and W = 0: every seed follows one curve, the reduced flow's."""
    run = train_sgd(T, d, [0, 1, 2], STEPS, batch_size=None, teacher="unit_columns", init="zero", lr=1.0, eval_every=5)
    assert np.all(run["w"][:, 0] == 0)
    assert np.ptp(run["loss"], axis=0).max() < 1e-5  # the teacher's direction does not matter
    theory = reduced.plateau_length(T, d)
    # Discrete steps of size 1 and the free scores' factor T/(T-1) are all that is left.
    assert plateaus(run) == pytest.approx(theory, rel=0.03)


def test_the_random_start_is_what_lengthens_the_plateau():
    base = dict(T=T, d=d, seeds=[0, 1, 2, 3], steps=STEPS, lr=1.0, eval_every=5)
    random_start = plateaus(train_sgd(**base, batch_size=None, teacher="unit_columns"))
    zero_start = plateaus(train_sgd(**base, batch_size=None, teacher="unit_columns", init="zero"))
    assert random_start.mean() > 1.05 * zero_start.mean()
    assert random_start.std() > 10 * zero_start.std()


def test_full_batch_uses_no_sampled_data():
    """Without batches the two data streams are never drawn: a seed gives the same run whatever its data."""
    a = train_sgd(T, d, [0], 50, batch_size=None, eval_every=10)
    b = train_sgd(T, d, [0], 50, batch_size=None, eval_every=10)
    assert np.array_equal(a["loss"], b["loss"])
    sgd = train_sgd(T, d, [0], 50, batch_size=4, eval_every=10)
    assert not np.allclose(sgd["loss"][0, 1:], a["loss"][0, 1:])


@pytest.mark.parametrize("kwargs, name", [({"init": "ones"}, "init"), ({"teacher": "unit"}, "teacher"),
                                          ({"batch_size": 0}, "batch_size")])
def test_invalid_controls_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        train_sgd(T, d, [0], 10, **kwargs)
