"""The shared kernel at the bottom of the tree: reading settings from the environment and the
clock. It imports no other package of ours, and every package may import it.
"""
