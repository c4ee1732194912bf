//! Every bound and period the rules of docs/behaviour.md name, in one leaf module: the
//! modules that apply a rule (decide, config, cache) and the one that words its messages
//! (error) read them here, so neither has to import the other.

use chrono::Duration;

/// v2's default expiry window (§4.1): a token with less than this left must be refreshed
/// before it is used.
pub const EXPIRY_WINDOW: Duration = Duration::seconds(300);

/// The default advisory window (§4.7): inside it a token is served while one refresh runs
/// in the background (botocore's advisory refresh).
pub const ADVISORY_WINDOW: Duration = Duration::seconds(900);

/// The largest window accepted, in seconds (ten years): far beyond any token lifetime, and
/// small enough that no date arithmetic with it can leave chrono's range.
pub const MAX_WINDOW_SECS: f64 = 10.0 * 365.0 * 24.0 * 3600.0;

/// At most one refresh attempt per cache file in this period (§4.5).
pub const REFRESH_THROTTLE: Duration = Duration::seconds(30);

/// The largest config file read (32 MiB): a generated config of 5,000 profiles and
/// sessions is about 1.4 MB; a path such as `/dev/zero` must not read until memory ends.
pub const MAX_CONFIG_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// The largest cache file read or written (1 MiB): real ones are a few hundred bytes.
pub const MAX_CACHE_FILE_BYTES: u64 = 1024 * 1024;
