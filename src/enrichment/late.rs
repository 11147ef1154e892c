//! Late answers: calls still running at the deadline keep going (up to their own timeout);
//! when they answer, the profile is rebuilt with them and cached — unless the user was erased
//! meanwhile.

use std::sync::Arc;

use enrichd_sdk::Subject;

use super::{Inner, SourceOutcome, build::BuiltProfile};
use crate::{
    cache::{Fence, NewProfile, Stored},
    connectors::ConnectorEntry,
    domain::{Overrides, UserKey},
};

/// What the merge of answers that arrive after the deadline works on.
pub(super) struct LateAnswers {
    pub(super) fence: Fence,
    pub(super) user: UserKey,
    /// The subject as the caller sent it (remembered with the profile).
    pub(super) subject: Arc<Subject>,
    /// The subject with what the waves found (the identifiers answers were given for).
    pub(super) identifiers: Arc<Subject>,
    pub(super) targets: Vec<Arc<ConnectorEntry>>,
    pub(super) outcomes: Vec<SourceOutcome>,
    pub(super) overrides: Overrides,
    /// The user's entry as the first writes left it (the base of the late ones).
    pub(super) stored: Stored,
}

impl Inner {
    /// Calls still running at the deadline keep going (up to their own timeout); when they
    /// answer, the profile is rebuilt with them and cached, so the next reader gets it whole —
    /// unless the user was erased meanwhile (`fence`).
    pub(super) fn merge_late_answers(
        self: &Arc<Self>,
        answers: LateAnswers,
        mut late: tokio::sync::mpsc::UnboundedReceiver<(usize, SourceOutcome)>,
        mut pending: usize,
    ) {
        let LateAnswers {
            fence,
            user,
            subject,
            identifiers,
            targets,
            mut outcomes,
            overrides,
            mut stored,
        } = answers;
        let this = self.clone();
        self.tasks.spawn(async move {
            let mut arrived = Vec::new();
            while pending > 0 {
                let Some((index, outcome)) = late.recv().await else {
                    break;
                };
                pending -= 1;
                if outcome.report.status.answered() {
                    arrived.push(index);
                }
                // It keeps the wave it was asked in.
                let mut outcome = outcome;
                let before = &mut outcomes[index].report;
                let (wave, via) = (before.wave, before.via.take());
                this.mark(&mut outcome, wave, via);
                outcomes[index] = outcome;
            }
            if arrived.is_empty() || !fence.holds() {
                return;
            }
            let fresh: Vec<SourceOutcome> = outcomes
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    let mut o = o.clone();
                    o.from_cache = !arrived.contains(&i);
                    o
                })
                .collect();
            let sources = this.fresh_sources(&identifiers, &targets, &fresh);
            let user = &user;
            let answers = this.answers_of(&mut outcomes, false);
            match this.build(&subject, &targets, &outcomes, answers, &overrides) {
                Ok(BuiltProfile {
                    cached, keep_for, ..
                }) => {
                    let packed = this
                        .cache
                        .store_local(&fence, user, &cached, keep_for)
                        .await;
                    let profile = NewProfile {
                        profile: &cached,
                        packed: &packed,
                        keep_for,
                    };
                    this.cache
                        .write_back(&fence, user, &mut stored, sources, Some(profile), None)
                        .await;
                    tracing::debug!(
                        late = arrived.len(),
                        "Merged late answers into the cached profile."
                    );
                }
                Err(_) => {
                    this.cache
                        .write_back(&fence, user, &mut stored, sources, None, None)
                        .await
                }
            }
        });
    }
}
