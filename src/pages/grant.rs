//! What the user's grant allows, next to what the operator configured (`THREELO_SCOPES`): a
//! feature is on when the grant holds its scopes (classic or granular, `crate::scopes`), offered
//! (one button to consent again, coming back to the same page) when the operator added them after
//! the user signed in, and off when the operator did not configure them. Pages that do not need
//! the scopes never ask.

use crate::scopes::Feature;

/// Whether a feature's scope can be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Granted,
    /// Configured but not in the grant: offer to consent again.
    Offer,
    /// Not configured: the feature is not part of this installation.
    Off,
}

/// The access to `feature` for a grant holding `granted`, with `configured` the operator's scopes.
pub fn access(configured: &[String], granted: &[String], feature: Feature) -> Access {
    if feature.met_by(granted) {
        Access::Granted
    } else if feature.met_by(configured) {
        Access::Offer
    } else {
        Access::Off
    }
}

/// Why `feature` is off, when the operator configured part of its granular set (likely by
/// mistake): the scopes the configuration lacks. `None` when it is on, or off on purpose.
pub fn off_for_want_of(configured: &[String], feature: Feature) -> Option<Vec<&'static str>> {
    (!feature.met_by(configured) && feature.granular_in_use(configured)).then(|| feature.lacking(configured))
}

/// The configured scopes the grant lacks, in configuration order.
pub fn lacking(configured: &[String], granted: &[String]) -> Vec<String> {
    configured.iter().filter(|s| !granted.contains(s)).cloned().collect()
}

/// The consent button of a page: where it posts, and the page it comes back to.
pub struct Offer {
    pub action: String,
    pub return_to: String,
    pub csrf: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn a_scope_is_granted_offered_or_off() {
        let configured = list("read:me read:jira-work write:jira-work offline_access");
        let granted = list("read:me read:jira-work offline_access");
        assert_eq!(access(&configured, &granted, Feature::Comment), Access::Offer);
        assert_eq!(access(&configured, &granted, Feature::JiraRead), Access::Granted);
        assert_eq!(access(&configured, &granted, Feature::PageSearch), Access::Off);
        assert_eq!(lacking(&configured, &granted), vec!["write:jira-work".to_owned()]);
        assert_eq!(off_for_want_of(&configured, Feature::PageSearch), None, "off on purpose");
        let granular = list("read:me write:issue:jira read:comment:jira offline_access");
        assert_eq!(access(&granular, &granular, Feature::Assign), Access::Granted);
        let missing = off_for_want_of(&granular, Feature::Comment).unwrap_or_default();
        assert!(missing.contains(&"write:comment:jira") && !missing.contains(&"write:jira-work"), "{missing:?}");
    }
}
