"""The Diamonds service as an application: command line, workers, migrations, demo data.

It reads the settings (`settings`) and wires the money core (`ledger`), the economy (`economy`)
and the API (`graph`) together.
"""
