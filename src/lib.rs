//! threelo: a self-hosted web app that signs people in with their Atlassian account (OAuth 2.0
//! 3LO) and shows their Jira and Confluence work, with every token sealed on the server.

pub mod access_keys;
pub mod api;
pub mod assets;
pub mod atlassian;
pub mod auth;
pub mod cause;
pub mod cli;
pub mod client_addr;
pub mod clock;
pub mod config;
pub mod console;
pub mod demo;
pub mod error;
pub mod head;
pub mod health;
pub mod ids;
pub mod log_throttle;
pub mod metrics;
pub mod nonce;
pub mod on_behalf;
pub mod pages;
pub mod query;
pub mod random;
pub mod rate_limits;
pub mod render;
pub mod scopes;
pub mod search_text;
pub mod security_headers;
pub mod server_limits;
pub mod session;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tokens;
pub mod urls;
