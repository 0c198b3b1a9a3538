"""Services: the orchestration of logins, sessions, verification, rotation, revocation.

Each service receives its collaborators (primitives) in its constructor; the manager
wires them. Services never import the HTTP layer or the manager.
"""
