"""The cluster harness: several hosts in network namespaces, real faults (issue 19)."""
