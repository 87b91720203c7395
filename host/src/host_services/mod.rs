//! State the host keeps for every plugin instance: rate-limit buckets, secrets, target metrics.
