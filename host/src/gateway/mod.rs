//! The ai-gateway attempt loop: runs a plan from the plugin against providers.
