"""Files as agentpolicy sees them: raw-byte names, repository paths, globs, snapshots of a set of
files, atomic writes.
"""
