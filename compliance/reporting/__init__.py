"""Year-end reporting: the report as plain data and its CSV (`rules.py`), and the service that
reads the year's payments and the taxpayers and audits the export (`service.py`).
"""
