//! Connectors: the registry of implementations (one line per connector crate) and the
//! runtime set of configured connector instances.

mod lifecycle;
pub mod manifests;
mod registry;
mod state;
mod stats;

use std::sync::Arc;

use enrichd_sdk::ConnectorFactory;

pub use lifecycle::{DiscoverReport, Lifecycle, LifecycleError};
pub use registry::{ConnectorEntry, ConnectorRegistry, Origin, RegistrySnapshot};
pub use state::RuntimeState;
pub use stats::{ConnectorStats, Health, Usage};

/// Every connector kind this build knows, by its `kind:` name.
#[derive(Clone)]
pub struct Factories {
    factories: Vec<Arc<dyn ConnectorFactory>>,
}

impl Factories {
    /// The connectors compiled into enrichd. To add one: add its crate to `Cargo.toml` and
    /// one line here.
    pub fn builtin() -> Factories {
        Factories {
            factories: vec![
                Arc::new(enrichd_hubspot::HubSpotFactory),
                Arc::new(enrichd_github::GitHubFactory),
                Arc::new(enrichd_salesforce::SalesforceFactory),
                Arc::new(enrichd_pipedrive::PipedriveFactory),
                Arc::new(enrichd_x::XFactory),
                Arc::new(enrichd_mastodon::MastodonFactory),
                Arc::new(enrichd_gravatar::GravatarFactory),
                Arc::new(enrichd_http::HttpFactory),
            ],
        }
    }

    /// The factory of `kind`.
    pub fn get(&self, kind: &str) -> Option<&Arc<dyn ConnectorFactory>> {
        self.factories.iter().find(|f| f.kind() == kind)
    }

    /// Every known kind, for error messages.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.factories.iter().map(|f| f.kind()).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn ConnectorFactory>> {
        self.factories.iter()
    }
}
