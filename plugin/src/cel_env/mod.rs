//! The CEL environment of traffic policies: variables, functions, `${…}` interpolation.
