//! Integration tests of the template connector against wiremock servers on loopback, answering
//! with the fixtures, and of its stand-in. One binary for all.

// STEP 9: the tests. Keep this layout: `helpers.rs` arranges a mock upstream and a connector
// pointed at it; one file per topic. Cover the exact request, the mapping of every fixture
// (with concrete values), every error mapping (with the vendor's headers and bodies), nulls
// and unexpected fields, settings validation by key, conformance, the stand-in (directly and
// served), health, a slow upstream, and that no message carries the email, token or URL. Put
// the vendor's real example responses in `fixtures/`, and break the code once on purpose to
// see a test fail. `enrichd_sdk::testkit` has the shared pieces: `mock_upstream`,
// `answer_get`, `single_request`, `request_header`, `epoch_in`, `assert_private`,
// `settings_issues` and `issue_paths`, `unreachable_base_url`, `stand_in_get`, `json_body`,
// `stand_in_round_trip` and `expect_refused`.

mod contract;
mod errors;
mod helpers;
mod lookup;
