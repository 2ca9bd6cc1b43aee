"""The finance console (`/console`) and the creator studio (`/studio`): server-rendered pages
whose every read and action is a GraphQL operation run in-process as the signed-in user.
"""
