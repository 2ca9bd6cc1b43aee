"""The shared kernel at the bottom of the tree: errors, input checks, the environment, the clock,
the table metadata, the audit log and who acts. It imports no other package of ours; all may.
"""
