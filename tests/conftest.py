"""Fixtures shared by several test files."""
import pytest

import mlpc


@pytest.fixture
def no_training(monkeypatch):
    """Any network built fails the test: a bad parameter must be refused before training."""
    def refuse(*args, **kwargs):
        raise AssertionError("a network was built before the parameters were checked")
    monkeypatch.setattr(mlpc, "Sequential", refuse)
