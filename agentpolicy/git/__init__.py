"""The git repository, read through pygit2 only: the facade, snapshots of commits, the index and the
working tree, and history walks.
"""
