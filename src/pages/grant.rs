//! What the user's grant allows, next to what the operator configured (`THREELO_SCOPES`): a
//! feature is on when the grant holds its scope, offered (one button to consent again, coming
//! back to the same page) when the operator added the scope after the user signed in, and off
//! when the operator did not configure it at all. Pages that do not need the scope never ask.

/// Whether a feature's scope can be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Granted,
    /// Configured but not in the grant: offer to consent again.
    Offer,
    /// Not configured: the feature is not part of this installation.
    Off,
}

/// The access to `scope` for a grant holding `granted`, with `configured` the operator's scopes.
pub fn access(configured: &[String], granted: &[String], scope: &str) -> Access {
    if granted.iter().any(|s| s == scope) {
        Access::Granted
    } else if configured.iter().any(|s| s == scope) {
        Access::Offer
    } else {
        Access::Off
    }
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
        let configured = list("read:me write:jira-work offline_access");
        let granted = list("read:me offline_access");
        assert_eq!(access(&configured, &granted, "write:jira-work"), Access::Offer);
        assert_eq!(access(&configured, &granted, "read:me"), Access::Granted);
        assert_eq!(access(&configured, &granted, "search:confluence"), Access::Off);
        assert_eq!(lacking(&configured, &granted), vec!["write:jira-work".to_owned()]);
    }
}
