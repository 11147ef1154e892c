//! Integration tests of the GitHub connector against wiremock servers on loopback, answering
//! with GitHub's recorded bodies (`fixtures/`), and of its stand-in. One binary for all.

mod errors;
mod health;
mod helpers;
mod mapping;
mod quota;
mod request;
mod settings;
mod stand_in;
