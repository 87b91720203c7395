//! Admin listener: health, readiness, metrics, policy status.
