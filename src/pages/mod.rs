//! Server-rendered pages. One page struct per template, next to its handler.

pub mod home;
mod static_files;

pub use static_files::stylesheet;
