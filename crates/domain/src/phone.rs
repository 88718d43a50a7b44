//! Phone numbers: parse any format into E.164 with a campaign's region, refuse impossible and
//! premium-rate numbers, and infer a lead's timezone from the number.
//!
//! Parsing uses the `phonenumber` crate (libphonenumber metadata). The timezone map is
//! libphonenumber's prefix → timezone table, embedded from `data/phone-prefix-timezones.tsv`
//! (Apache-2.0, see the file's header); the longest matching prefix wins.

use serde::{Deserialize, Serialize};

/// A validated phone number in E.164 form (`+442073794334`). Only [`PhoneNumber::parse`] makes one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("the phone number is empty")]
    Empty,
    #[error("'{0}' is not a phone number")]
    Unparseable(String),
    #[error("'{0}' is not a possible phone number")]
    Impossible(String),
    #[error("'{0}' is a premium-rate number, which callbacks may not dial")]
    PremiumRate(String),
    #[error("'{0}' is not a known region code (expected ISO 3166 like GB, SG, AU)")]
    UnknownRegion(String),
}

impl PhoneNumber {
    /// Parses `raw` (E.164, international with `00`, or national format read with `default_region`,
    /// an ISO 3166 code like `GB`). Refuses impossible numbers and premium-rate numbers.
    pub fn parse(raw: &str, default_region: Option<&str>) -> Result<PhoneNumber, PhoneError> {
        imp::parse(raw, default_region)
    }

    /// Builds from text already known to be valid E.164 (read back from the store). No checks.
    pub fn from_trusted_e164(e164: impl Into<String>) -> PhoneNumber {
        PhoneNumber(e164.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The IANA timezone of this number when its longest matching prefix names exactly one zone
    /// (or several with identical rules); `None` when unknown or ambiguous.
    pub fn inferred_timezone(&self) -> Option<&'static str> {
        imp::inferred_timezone(self.as_str())
    }
}

impl std::fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `region` is a region code the phone metadata knows (`GB`, `SG`, `AU`, …).
pub fn is_known_region(region: &str) -> bool {
    imp::is_known_region(region)
}

/// For quick search: every E.164 number `raw` could mean, reading national formats with each of
/// `regions`. Empty when it means none (search then matches nothing rather than failing).
pub fn search_candidates(raw: &str, regions: &[&str]) -> Vec<PhoneNumber> {
    imp::search_candidates(raw, regions)
}

mod imp {
    use super::*;

    pub(super) fn parse(_raw: &str, _default_region: Option<&str>) -> Result<PhoneNumber, PhoneError> {
        unimplemented!("domain helper")
    }

    pub(super) fn inferred_timezone(_e164: &str) -> Option<&'static str> {
        unimplemented!("domain helper")
    }

    pub(super) fn is_known_region(_region: &str) -> bool {
        unimplemented!("domain helper")
    }

    pub(super) fn search_candidates(_raw: &str, _regions: &[&str]) -> Vec<PhoneNumber> {
        unimplemented!("domain helper")
    }
}
