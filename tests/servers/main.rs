//! Real servers (PostgreSQL, Redis, nginx) under load generators, and the
//! server fixtures themselves: a test binary of their own, since a
//! benchmark saturating both cores of a CI machine would starve the timed
//! fixtures of the other binaries' tests (`watch` verdicts, deadlines).

#[path = "../common/mod.rs"]
mod common;

mod leftovers_servers;
mod servers_smoke;
mod watch_servers;
