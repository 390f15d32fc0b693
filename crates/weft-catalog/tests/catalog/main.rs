//! End-to-end tests of the catalog over a real embedded log (one test binary, several modules).

mod access;
mod common;
mod derived;
mod lifecycle;
mod lineage;
mod odps;
mod restart;
mod search;
mod shared_log;
