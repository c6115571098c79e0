"""Adapters: the only modules that talk to databases, Git, files of secrets and Kubernetes.

They translate library exceptions into lynq-bridge's own errors; they do not decide anything.
"""
