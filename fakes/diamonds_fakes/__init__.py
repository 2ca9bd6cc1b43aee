"""Fake provider servers for tests and local runs: real HTTP on 127.0.0.1 speaking each provider's
wire format, with fault injection (`faults`) and one command to start them all (`runner`).
"""
