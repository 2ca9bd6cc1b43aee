"""The service's settings, read from `DIAMONDS_*` variables and checked once at start-up: the
shell builds `settings.service.Settings` and hands it down. Imports only the kernel.
"""
