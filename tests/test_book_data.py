"""Cached results files: found in a checkout or an installed copy, the scale said, a missing file explained."""

import json
from pathlib import Path

import pytest

from sparse_attention_lab.runs import book_data
from sparse_attention_lab.runs.book_data import data_dir, data_path, load_cached, load_cached_file

REPO = Path(__file__).resolve().parents[1]


def record(command: str) -> dict:
    provenance = {"command": command, "cpu_count": 2, "cpu": "a CPU", "device": "cpu", "torch_version": "2",
                  "sweep_started_at": "2026-01-01T00:00:00", "git_commit": "0123456789", "job_wall_time_s": 60.0}
    return {"config": {"T": 8}, "seed": 0, "steps": [0], "test_loss": [1.0], "train_loss": [1.0],
            "escape_step": None, "provenance": provenance}


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """An empty data folder in place of book/data."""
    monkeypatch.setattr(book_data, "CANDIDATES", (tmp_path / "missing", tmp_path))
    return tmp_path


def write(folder: Path, filename: str) -> None:
    (folder / filename).write_text(json.dumps(record(f"make {filename}")) + "\n")


def test_the_installed_copy_is_book_data():
    """The package's book_data (what a wheel ships) is the checkout's book/data, found first."""
    assert (REPO / "sparse_attention_lab" / "book_data").resolve() == (REPO / "book" / "data").resolve()
    assert data_dir().resolve() == (REPO / "book" / "data").resolve()
    # the cached results and the chapters' scorecards (the summary page opened alone on Colab)
    assert 'sparse_attention_lab = ["book_data/*.jsonl", "book_data/*.json"]' in (REPO / "pyproject.toml").read_text()


def test_chapters_cached_sweeps_load():
    fig3 = load_cached("fig3", "ci")
    assert fig3.records and fig3.scale == "ci" and fig3.path.name == "fig3_ci.jsonl"
    assert "`fig3_ci.jsonl`: 18 runs" in fig3.describe() and "Scale" not in fig3.describe()


def test_gpu_prefers_a_gpu_or_paper_cache(folder):
    write(folder, "fig3_ci.jsonl")
    assert load_cached("fig3", "gpu").scale == "ci"
    assert "not this chapter's gpu profile" in load_cached("fig3", "gpu").describe()
    write(folder, "fig3_paper.jsonl")
    assert load_cached("fig3", "gpu").scale == "paper"
    write(folder, "fig3_gpu.jsonl")
    assert load_cached("fig3", "gpu").scale == "gpu"
    assert load_cached("fig3", "paper").scale == "paper"
    assert load_cached("fig3", "ci").scale == "ci"  # ci and laptop take the scale asked for
    assert load_cached("fig3", "laptop").scale == "ci"


def test_a_missing_cache_names_the_command(folder):
    with pytest.raises(FileNotFoundError, match="python -m sparse_attention_lab sweep fig3 --profile laptop"):
        load_cached("fig3", "gpu", scale="laptop")
    with pytest.raises(FileNotFoundError, match="missing. Make them with: run chapter 5"):
        load_cached_file("beyond.jsonl", "run chapter 5")
    (folder / "empty.jsonl").write_text("")
    with pytest.raises(FileNotFoundError, match="is empty"):
        load_cached_file("empty.jsonl", "run chapter 5")


def test_bad_names_raise(folder):
    with pytest.raises(ValueError, match="filename"):
        data_path("../fig3_ci.jsonl")
    with pytest.raises(ValueError, match="scale"):
        load_cached("fig3", "ci", scale="huge")
    with pytest.raises(ValueError, match="profile"):
        load_cached("fig3", "colab")


def test_no_data_folder_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setattr(book_data, "CANDIDATES", (tmp_path / "a", tmp_path / "b"))
    with pytest.raises(FileNotFoundError, match="Reinstall the package"):
        data_dir()


def run_at(width: int, lr: float, profile: str = "ci", seed: int = 0, **provenance) -> dict:
    """A record of a model of ``width`` trained at ``lr`` under ``profile``."""
    r = record(f"python -m sparse_attention_lab sweep x --profile {profile}")
    r["config"], r["seed"] = {"T": 8, "d_model": width, "lr": lr, "max_steps": 100}, seed
    r["provenance"].update(profile=profile, **provenance)
    return r


def write_runs(folder: Path, filename: str, runs: list[dict]) -> None:
    (folder / filename).write_text("".join(json.dumps(r) + "\n" for r in runs))


def test_the_loader_refuses_a_mixed_scale_join_unless_named(folder):
    write_runs(folder, "a_ci.jsonl", [run_at(32, 3e-4)])
    write_runs(folder, "b_ci.jsonl", [run_at(32, 3e-4)])
    write_runs(folder, "wide_ci.jsonl", [run_at(256, 1e-4)])
    joint = load_cached(["a", "b"], "ci")
    assert len(joint.records) == 2 and book_data.scale_text(joint.scale_of) == "profile ci, width 32, lr 0.0003, device cpu"
    with pytest.raises(ValueError, match=r"different width and lr .*join=\('width', 'lr'\)"):
        load_cached(["a", "wide"], "ci")
    assert len(load_cached(["a", "wide"], "ci", join=("width", "lr")).records) == 2
    with pytest.raises(ValueError, match="join must name"):
        load_cached(["a", "wide"], "ci", join=("seed",))


def test_the_loader_never_joins_a_larger_scale_file_with_ci_files(folder):
    """Under gpu a larger-scale file is used only where every sweep of the join has one."""
    write_runs(folder, "a_ci.jsonl", [run_at(32, 3e-4)])
    write_runs(folder, "b_ci.jsonl", [run_at(32, 3e-4)])
    write_runs(folder, "a_paper.jsonl", [run_at(256, 1e-4, "paper")])
    assert load_cached("a", "gpu").scale == "paper"
    joint = load_cached(["a", "b"], "gpu")
    assert joint.scale == "ci" and {p.scale for p in joint.parts} == {"ci"}


def test_the_loader_ignores_capped_runs(folder):
    flag = run_at(32, 3e-4, seed=1, step_cap=2)  # --max-steps 2, recorded by the sweep
    legacy = run_at(32, 3e-4, seed=2)  # a file written before the marker: the cap is in the command
    legacy["provenance"]["command"] = "python -m sparse_attention_lab sweep fig3 --profile ci --max-steps 2"
    env = run_at(32, 3e-4, seed=3)  # $SAL_MAX_STEPS: the trainer's cap below the config's
    env["settings"] = {"train": {"max_steps": 2}}
    write_runs(folder, "fig3_ci.jsonl", [run_at(32, 3e-4), flag, legacy, env])
    cached = load_cached("fig3", "ci")
    assert len(cached.records) == 1 and cached.dropped == 3
    assert "Left out: 3 runs trained under a step cap" in cached.describe()
    write_runs(folder, "trial_ci.jsonl", [flag])
    with pytest.raises(FileNotFoundError, match="holds only capped runs. Make them with: python -m sparse_attention_lab "
                                                "sweep trial --profile ci --out book/data/trial_ci.jsonl"):
        load_cached("trial", "ci")


def test_a_missing_file_of_a_join_names_its_command(folder):
    write_runs(folder, "a_ci.jsonl", [run_at(32, 3e-4)])
    with pytest.raises(FileNotFoundError, match="Make them with: python -m sparse_attention_lab sweep b --profile ci "
                                                "--out book/data/b_ci.jsonl"):
        load_cached(["a", "b"], "ci")


def test_a_capped_sweep_records_its_cap(tmp_path):
    """``--max-steps`` is written to the provenance, so the loader can recognise the runs."""
    from sparse_attention_lab.runs.provenance import capped, sweep_provenance

    assert sweep_provenance("cmd", "ci", "fig3", 2)["step_cap"] == 2
    assert capped({"provenance": sweep_provenance("cmd", "ci", "fig3", 2)})
    assert not capped({"provenance": sweep_provenance("cmd", "ci", "fig3")})
