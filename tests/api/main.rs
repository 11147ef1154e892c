//! Black-box tests of enrichd's HTTP API: the real application on port 0, a real
//! `redis-server`, and upstreams on loopback (the connectors' stand-ins or wiremock).

mod auth;
mod bad_input;
mod browser;
mod cli;
mod cluster;
mod connectors;
mod console;
mod encryption;
mod enrich;
mod erasure;
mod fuzz;
mod health;
mod helpers;
mod hostile;
mod identity;
mod jobs;
mod jobs_processes;
mod openapi;
mod privacy;
mod profiles;
mod redis_transport;
mod resilience;
mod spend;
mod traces;
