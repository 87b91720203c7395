//! Prometheus metrics of the edge.
