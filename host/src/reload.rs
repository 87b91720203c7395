//! Hot reload of the policy file (directory watch, debounced) and SIGHUP.
