//! Multi-process tests of Groundwork: real processes, real SQLite files, real crashes. The
//! tests live in `tests/`; the helper programs they start live in `src/bin/`.
