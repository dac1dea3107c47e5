"""The use cases: check, approve, audit, status, init/new, demo and CI range resolution. No click, no
printing.
"""
