"""The Diamonds service as an application: configuration, command line, migrations, demo data.

It wires the money core (`ledger`), the economy (`economy`) and the API (`graph`) together.
"""
