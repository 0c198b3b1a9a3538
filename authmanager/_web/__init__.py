"""The HTTP layer: transport, error mapping, dependencies, routes, WebSockets."""
