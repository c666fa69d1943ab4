//! Wall-clock time in Unix seconds, the unit every stored timestamp uses.

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
