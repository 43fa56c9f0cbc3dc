

def test_missing_runs_names_the_plans_runs_no_record_holds():
    from sparse_attention_lab.runs.results import missing_runs

    plan = [{"T": 16, "d": 4}, {"T": 32, "d": 4}]
    records = [{"config": {"d": 4, "T": 16}, "seed": 0}, {"config": {"T": 16, "d": 4}, "seed": 5},
               {"config": {"T": 32, "d": 8}, "seed": 0}]
    assert missing_runs(plan, 2, records) == [(plan[0], 1), (plan[1], 0), (plan[1], 1)]
