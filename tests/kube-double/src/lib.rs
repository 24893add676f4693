//! An in-memory Kubernetes API server double for tests.
