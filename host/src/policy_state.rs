//! The currently loaded policy, swapped atomically on reload.
