//! Integration tests of the declarative connector against wiremock servers on loopback,
//! answering with ACME's bodies (`fixtures/`), and of its stand-in. One binary for all.

mod errors;
mod health;
mod helpers;
mod hosts;
mod mapping;
mod not_found;
mod quota;
mod request;
mod settings;
mod stand_in;
