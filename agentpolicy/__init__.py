"""agentpolicy: written answers to the five production questions, checked like code."""

__version__ = "0.1.0"
