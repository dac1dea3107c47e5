"""The agent document: YAML loading with positions, findings, the governed-content digest, changes
between two versions, the JSON Schemas.
"""
