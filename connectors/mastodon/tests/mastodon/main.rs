//! Integration tests of the Mastodon connector against wiremock servers on loopback, answering
//! with the bodies of Mastodon's documentation (`fixtures/`), and of its stand-in. One binary
//! for all.

mod errors;
mod health;
mod helpers;
mod mapping;
mod quota;
mod request;
mod settings;
mod stand_in;
