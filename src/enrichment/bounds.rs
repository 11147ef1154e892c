//! Caps on what an upstream — or a per-source answer read back from Redis — may put into a
//! profile: every list and map of the profile's sections keeps at most `max_items` entries
//! (`enrichment.max_list_items`), and so does each connector's `extra` facts. Applied where an
//! answer enters (a fresh call, a cached answer) and to the merged profile, so that no profile
//! grows with what a source sends.

use enrichd_sdk::{Behavior, Enrichment, Identity, Social};
use serde_json::{Map, Value};

use super::profile::ProfileBody;

/// Cap one connector's answer.
pub fn cap_enrichment(enrichment: &mut Enrichment, max_items: usize) {
    cap_identity(&mut enrichment.identity, max_items);
    enrichment.interests.truncate(max_items);
    cap_social(&mut enrichment.social, max_items);
    cap_behavior(&mut enrichment.behavior, max_items);
    cap_map(&mut enrichment.extra, max_items);
}

/// Cap a merged profile (the union of capped answers can still be longer).
pub fn cap_body(body: &mut ProfileBody, max_items: usize) {
    cap_identity(&mut body.identity, max_items);
    body.interests.truncate(max_items);
    cap_social(&mut body.social, max_items);
    cap_behavior(&mut body.behavior, max_items);
}

fn cap_identity(identity: &mut Identity, max_items: usize) {
    identity.emails.truncate(max_items);
    while identity.handles.len() > max_items {
        identity.handles.pop_last();
    }
}

fn cap_social(social: &mut Social, max_items: usize) {
    social.platforms.truncate(max_items);
    social.communities.truncate(max_items);
}

fn cap_behavior(behavior: &mut Behavior, max_items: usize) {
    behavior.purchase_history.truncate(max_items);
    behavior.preferred_channels.truncate(max_items);
    cap_map(&mut behavior.engagement, max_items);
}

/// Keep the first `max_items` keys (in key order: the map is sorted).
fn cap_map(map: &mut Map<String, Value>, max_items: usize) {
    if map.len() > max_items {
        let keep: Map<String, Value> = std::mem::take(map).into_iter().take(max_items).collect();
        *map = keep;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn filled(count: usize) -> Enrichment {
        let texts: Vec<String> = (0..count).map(|i| format!("t{i:04}")).collect();
        let mut enrichment = Enrichment::default();
        enrichment.identity.emails = texts.clone();
        enrichment.identity.handles = texts.iter().map(|t| (t.clone(), t.clone())).collect();
        enrichment.interests = texts.clone();
        enrichment.social.platforms = texts.clone();
        enrichment.social.communities = texts.clone();
        enrichment.behavior.purchase_history = texts.iter().map(|t| json!(t)).collect();
        enrichment.behavior.preferred_channels = texts.clone();
        enrichment.behavior.engagement = texts.iter().map(|t| (t.clone(), json!(1))).collect();
        enrichment.extra = texts.iter().map(|t| (t.clone(), json!(1))).collect();
        enrichment
    }

    #[test]
    fn every_list_and_map_of_an_answer_is_capped_keeping_the_first_items() {
        let mut enrichment = filled(300);
        cap_enrichment(&mut enrichment, 200);
        let lengths = [
            enrichment.identity.emails.len(),
            enrichment.identity.handles.len(),
            enrichment.interests.len(),
            enrichment.social.platforms.len(),
            enrichment.social.communities.len(),
            enrichment.behavior.purchase_history.len(),
            enrichment.behavior.preferred_channels.len(),
            enrichment.behavior.engagement.len(),
            enrichment.extra.len(),
        ];
        assert_eq!(lengths, [200; 9]);
        assert_eq!(enrichment.interests[199], "t0199");
        assert!(enrichment.identity.handles.contains_key("t0199"));
        assert!(!enrichment.extra.contains_key("t0200"));
    }

    #[test]
    fn short_lists_are_left_alone() {
        let mut enrichment = filled(3);
        let before = enrichment.clone();
        cap_enrichment(&mut enrichment, 200);
        assert_eq!(enrichment, before);
    }

    #[test]
    fn a_merged_body_is_capped_too() {
        let answer = filled(300);
        let mut body = ProfileBody {
            identity: answer.identity,
            interests: answer.interests,
            social: answer.social,
            behavior: answer.behavior,
            ..ProfileBody::default()
        };
        cap_body(&mut body, 10);
        assert_eq!(body.identity.emails.len(), 10);
        assert_eq!(body.identity.handles.len(), 10);
        assert_eq!(body.interests.len(), 10);
        assert_eq!(body.social.communities.len(), 10);
        assert_eq!(body.behavior.engagement.len(), 10);
        assert_eq!(body.behavior.purchase_history.len(), 10);
    }
}
