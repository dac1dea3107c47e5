"""The derived cache in the git directory: per-blob results that can only cost time, never change a
verdict.
"""
