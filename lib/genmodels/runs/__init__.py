"""Runs and their folders: one run end to end, executing the train notebook, executors, sweeps, the results table and loading a trained run."""
