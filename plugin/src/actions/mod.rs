//! Traffic-policy actions.
