import os
import pathlib
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _bin(var, name):
    path = os.environ.get(var) or str(ROOT / "target" / "debug" / name)
    if not os.path.exists(path):
        pytest.fail(f"{name} not built at {path}: run the README's test command")
    return path


@pytest.fixture(scope="session")
def hotlined():
    return _bin("HOTLINED", "hotlined")


@pytest.fixture(scope="session")
def hotline_bench():
    return _bin("HOTLINE_BENCH", "hotline-bench")
