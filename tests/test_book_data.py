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
