"""Cluster mode: etcd, Patroni-managed PostgreSQL 18 nodes and HAProxy on loopback, under one folder.

The development and test stand-in for three servers; the configuration files come from the same
templates (`cluster/templates/`) that the production manifests reuse.
"""
