//! Command-line interface: `edge serve`, `edge check`, `edge --version`.
