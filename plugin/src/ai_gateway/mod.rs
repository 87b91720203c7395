//! The `ai-gateway` action.
