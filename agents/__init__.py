"""Agents and the training, evaluation and sweep command-line tools."""
