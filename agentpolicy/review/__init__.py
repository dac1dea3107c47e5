"""Review entries, SSH signatures, the trust root, separation of duties and the one judge that decides
whether a governed change is approved.
"""
