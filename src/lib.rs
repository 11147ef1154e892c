//! enrichd: a user-profile enrichment service. See README.md for what it does and how to run it.

pub mod api;
pub mod cache;
pub mod clock;
pub mod config;
pub mod connectors;
pub mod coordination;
pub mod demo;
pub mod domain;
pub mod enrichment;
pub mod jobs;
pub mod keys;
pub mod metrics;
pub mod per_thread;
pub mod per_user;
pub mod privacy;
pub mod redis_link;
pub mod resilience;
pub mod sealing;
pub mod spend;
pub mod startup;
pub mod tasks;
pub mod telemetry;
pub mod traces;
pub mod upstream_http;
