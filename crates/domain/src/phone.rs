//! Phone numbers: parse any format into E.164 with a campaign's region, refuse impossible and
//! premium-rate numbers, and infer a lead's timezone from the number.
//!
//! Parsing uses the `phonenumber` crate (libphonenumber metadata). The timezone map is
//! libphonenumber's prefix → timezone table, embedded from `data/phone-prefix-timezones.tsv`
//! (Apache-2.0, see the file's header); the longest matching prefix wins.
//!
//! When a prefix names several zones that follow identical rules (`44`: Guernsey, Isle of Man,
//! Jersey, London), the answer is the one the table most often names *alone* for other prefixes —
//! the country's main zone (Europe/London, Europe/Rome, Europe/Oslo) — ties broken by the
//! alphabetically last name. "Identical" means the same offset at 2025-01-01 and the same
//! transitions up to 2035 in the bundled tz database; zones that differ make the answer unknown.

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
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex, PoisonError};

    use jiff::Timestamp;
    use jiff::tz::TimeZone;
    use phonenumber::country::Id;
    use phonenumber::metadata::DATABASE;
    use phonenumber::{Mode, Type};

    use super::*;

    /// Longer than any dialable number (15 E.164 digits plus an international prefix and slack).
    /// Anything longer is refused before it reaches the parser.
    const MAX_DIGITS: usize = 20;

    /// What the user typed once the separators are gone.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Digits {
        /// Written with a leading `+` or `00`: the country code comes first.
        International(String),
        /// Anything else: a national number, read with a region.
        National(String),
    }

    /// Reduces `raw` to digits, accepting only the separators people actually type. The parser only
    /// ever sees `+` and digits, which keeps arbitrary text away from it (libphonenumber ports have
    /// panicked on odd punctuation before).
    fn clean(raw: &str) -> Result<Digits, PhoneError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(PhoneError::Empty);
        }
        let unparseable = || PhoneError::Unparseable(text.to_string());
        let (plus, rest) = match text.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '\t' | '\u{a0}' | '-' | '.' | '(' | ')' | '/' => {}
                _ => return Err(unparseable()),
            }
        }
        if digits.is_empty() {
            return Err(unparseable());
        }
        if digits.len() > MAX_DIGITS {
            return Err(PhoneError::Impossible(text.to_string()));
        }
        if plus {
            Ok(Digits::International(digits))
        } else if let Some(rest) = digits.strip_prefix("00") {
            Ok(Digits::International(rest.to_string()))
        } else {
            Ok(Digits::National(digits))
        }
    }

    fn region_id(region: &str) -> Result<Id, PhoneError> {
        let code = region.trim().to_ascii_uppercase();
        match code.parse::<Id>() {
            Ok(id) if DATABASE.by_id(id.as_ref()).is_some() => Ok(id),
            _ => Err(PhoneError::UnknownRegion(region.to_string())),
        }
    }

    /// A number libphonenumber considers valid for its country, with its type.
    fn read(digits: &Digits, region: Option<Id>) -> Option<(String, Type)> {
        let (text, region) = match digits {
            Digits::International(d) => (format!("+{d}"), None),
            // Without a region a national-looking number can only be read as international
            // written without its `+` (`442073794334`).
            Digits::National(d) => match region {
                Some(id) => (d.clone(), Some(id)),
                None => (format!("+{d}"), None),
            },
        };
        let number = phonenumber::parse(region, &text).ok()?;
        if !number.is_valid() {
            return None;
        }
        let e164 = number.format().mode(Mode::E164).to_string();
        let kind = number.number_type(&DATABASE);
        Some((e164, kind))
    }

    pub(super) fn parse(raw: &str, default_region: Option<&str>) -> Result<PhoneNumber, PhoneError> {
        let digits = clean(raw)?;
        let region = default_region.map(region_id).transpose()?;
        let text = raw.trim();
        match read(&digits, region) {
            None => Err(PhoneError::Impossible(text.to_string())),
            Some((_, Type::PremiumRate)) => Err(PhoneError::PremiumRate(text.to_string())),
            Some((e164, _)) => Ok(PhoneNumber(e164)),
        }
    }

    pub(super) fn is_known_region(region: &str) -> bool {
        region_id(region).is_ok()
    }

    pub(super) fn search_candidates(raw: &str, regions: &[&str]) -> Vec<PhoneNumber> {
        let Ok(digits) = clean(raw) else {
            return Vec::new();
        };
        // Search finds whatever is stored, so any valid number counts here, premium-rate included.
        let mut found: Vec<PhoneNumber> = Vec::new();
        let mut push = |hit: Option<(String, Type)>| {
            if let Some((e164, _)) = hit
                && !found.iter().any(|p| p.0 == e164)
            {
                found.push(PhoneNumber(e164));
            }
        };
        match &digits {
            Digits::International(_) => push(read(&digits, None)),
            Digits::National(_) => {
                for region in regions {
                    if let Ok(id) = region_id(region) {
                        push(read(&digits, Some(id)));
                    }
                }
                push(read(&digits, None));
            }
        }
        found
    }

    /// The embedded prefix → timezones table (see the attribution lines at its top).
    const PREFIX_TIMEZONES: &str = include_str!("../data/phone-prefix-timezones.tsv");

    /// The table as read once: prefix (digits after `+`) → its `&`-separated zones, and how often
    /// each zone is a prefix's only zone.
    struct PrefixTable {
        zones: HashMap<&'static str, &'static str>,
        alone: HashMap<&'static str, usize>,
    }

    static TABLE: LazyLock<PrefixTable> = LazyLock::new(|| {
        let mut zones = HashMap::new();
        let mut alone: HashMap<&'static str, usize> = HashMap::new();
        for line in PREFIX_TIMEZONES.lines().filter(|line| !line.starts_with('#')) {
            let Some((prefix, names)) = line.split_once('\t') else { continue };
            if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                continue; // the header row, or a damaged line
            }
            let names = names.trim();
            if !names.contains('&') && !names.is_empty() {
                *alone.entry(names).or_default() += 1;
            }
            zones.insert(prefix, names);
        }
        PrefixTable { zones, alone }
    });

    /// Answers for zone lists already examined (a few hundred lists share a few dozen zones);
    /// comparing rules costs a walk through each zone's transitions, so it is done once per list.
    static RESOLVED: LazyLock<Mutex<HashMap<&'static str, Option<&'static str>>>> = LazyLock::new(Mutex::default);

    fn resolve(names: &'static str) -> Option<&'static str> {
        let mut cache = RESOLVED.lock().unwrap_or_else(PoisonError::into_inner);
        *cache.entry(names).or_insert_with(|| {
            let zones: Vec<&'static str> = names.split('&').map(str::trim).filter(|z| !z.is_empty()).collect();
            pick_zone(&zones, &TABLE.alone)
        })
    }

    /// One zone for a prefix: the only one, or — when several all follow identical rules — the one
    /// most often named alone elsewhere in the table (ties: alphabetically last). Zones the tz
    /// database does not know make the answer unknown.
    fn pick_zone(zones: &[&'static str], alone: &HashMap<&'static str, usize>) -> Option<&'static str> {
        let mut first: Option<Vec<(Timestamp, i32)>> = None;
        for zone in zones {
            let print = fingerprint(zone)?;
            match &first {
                None => first = Some(print),
                Some(expected) if *expected == print => {}
                Some(_) => return None,
            }
        }
        zones.iter().copied().max_by_key(|zone| (alone.get(zone).copied().unwrap_or(0), *zone))
    }

    /// A zone's rules over a window of years, as the offset at the start and every transition
    /// (instant, new offset) up to the end. Two zones with equal fingerprints behave identically for
    /// any callback Rebound will book. A fixed window keeps the inference deterministic.
    fn fingerprint(zone: &str) -> Option<Vec<(Timestamp, i32)>> {
        const FROM_SECS: i64 = 1_735_689_600; // 2025-01-01T00:00:00Z
        const TO_SECS: i64 = 2_051_222_400; // 2035-01-01T00:00:00Z
        let tz = TimeZone::get(zone).ok()?;
        let from = Timestamp::from_second(FROM_SECS).ok()?;
        let to = Timestamp::from_second(TO_SECS).ok()?;
        let mut print = vec![(from, tz.to_offset(from).seconds())];
        for transition in tz.following(from) {
            if transition.timestamp() >= to {
                break;
            }
            print.push((transition.timestamp(), transition.offset().seconds()));
        }
        Some(print)
    }

    pub(super) fn inferred_timezone(e164: &str) -> Option<&'static str> {
        let digits = e164.strip_prefix('+')?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let names = (1..=digits.len()).rev().find_map(|len| TABLE.zones.get(&digits[..len]).copied())?;
        resolve(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn e164(raw: &str, region: Option<&str>) -> String {
        match PhoneNumber::parse(raw, region) {
            Ok(n) => n.into_string(),
            Err(e) => panic!("{raw} with {region:?}: {e}"),
        }
    }

    #[test]
    fn london_singapore_canberra_national_formats_resolve_with_the_campaign_region() {
        assert_eq!(e164("02073794334", Some("GB")), "+442073794334");
        assert_eq!(e164("68364100", Some("SG")), "+6568364100");
        assert_eq!(e164("0262160100", Some("AU")), "+61262160100");
    }

    #[test]
    fn national_formats_tolerate_separators() {
        assert_eq!(e164(" 020 7379-4334 ", Some("GB")), "+442073794334");
        assert_eq!(e164("6836.4100", Some("SG")), "+6568364100");
        assert_eq!(e164("(02) 6216 0100", Some("AU")), "+61262160100");
        assert_eq!(e164("+44 (0)20 7379 4334", Some("GB")), "+442073794334");
    }

    #[test]
    fn e164_forms_parse_with_any_region_or_none() {
        for (raw, want) in [
            ("+442073794334", "+442073794334"),
            ("+6568364100", "+6568364100"),
            ("+61262160100", "+61262160100"),
            ("+44 20 7379 4334", "+442073794334"),
            ("0044 20 7379 4334", "+442073794334"),
            ("0065-6836-4100", "+6568364100"),
        ] {
            for region in [None, Some("GB"), Some("SG"), Some("AU"), Some("US"), Some("FR")] {
                assert_eq!(e164(raw, region), want, "{raw} with {region:?}");
            }
        }
    }

    #[test]
    fn lowercase_region_codes_are_accepted() {
        assert!(is_known_region("gb"));
        assert_eq!(e164("02073794334", Some("gb")), "+442073794334");
    }

    #[test]
    fn empty_and_garbage_are_refused() {
        assert_eq!(PhoneNumber::parse("", Some("GB")), Err(PhoneError::Empty));
        assert_eq!(PhoneNumber::parse("   ", None), Err(PhoneError::Empty));
        assert!(matches!(PhoneNumber::parse("call me", Some("GB")), Err(PhoneError::Unparseable(_))));
        assert!(matches!(PhoneNumber::parse("0207abc4334", Some("GB")), Err(PhoneError::Unparseable(_))));
        assert!(matches!(PhoneNumber::parse("+", Some("GB")), Err(PhoneError::Unparseable(_))));
        assert!(matches!(PhoneNumber::parse("--", Some("GB")), Err(PhoneError::Unparseable(_))));
    }

    #[test]
    fn impossible_numbers_are_refused() {
        for (raw, region) in [
            ("+44207379", None),
            ("02073", Some("GB")),
            ("+4420737943341234", None),
            ("0000000000", Some("GB")),
            ("+999123456789", None),
            ("123456789012345678901234", Some("GB")),
        ] {
            assert!(
                matches!(PhoneNumber::parse(raw, region), Err(PhoneError::Impossible(_))),
                "{raw}: {:?}",
                PhoneNumber::parse(raw, region)
            );
        }
    }

    #[test]
    fn premium_rate_numbers_are_refused() {
        assert!(matches!(PhoneNumber::parse("+449098790000", None), Err(PhoneError::PremiumRate(_))));
        assert!(matches!(PhoneNumber::parse("09098790000", Some("GB")), Err(PhoneError::PremiumRate(_))));
        assert!(matches!(PhoneNumber::parse("1900 123 456", Some("AU")), Err(PhoneError::PremiumRate(_))));
    }

    #[test]
    fn unknown_regions_are_refused() {
        assert_eq!(PhoneNumber::parse("02073794334", Some("XX")), Err(PhoneError::UnknownRegion("XX".into())));
        assert_eq!(PhoneNumber::parse("02073794334", Some("")), Err(PhoneError::UnknownRegion(String::new())));
        assert!(!is_known_region("England"));
        assert!(is_known_region("GB") && is_known_region("SG") && is_known_region("AU"));
    }

    #[test]
    fn timezone_is_inferred_from_the_longest_prefix() {
        let tz = |s: &str| PhoneNumber::from_trusted_e164(s).inferred_timezone();
        assert_eq!(tz("+442073794334"), Some("Europe/London"));
        assert_eq!(tz("+6568364100"), Some("Asia/Singapore"));
        assert_eq!(tz("+61262160100"), Some("Australia/Sydney"));
        // Several zones with the same rules resolve to the main one.
        assert_eq!(tz("+390612345678"), Some("Europe/Rome"));
        // North America spans many zones.
        assert_eq!(tz("+1"), None);
        assert_eq!(tz("not a number"), None);
        assert_eq!(tz("+"), None);
    }

    #[test]
    fn search_candidates_read_national_text_with_each_region() {
        let found = search_candidates("02073794334", &["GB", "AU", "XX"]);
        assert_eq!(found, vec![PhoneNumber::from_trusted_e164("+442073794334")]);
        let found = search_candidates("68364100", &["SG", "GB"]);
        assert_eq!(found, vec![PhoneNumber::from_trusted_e164("+6568364100")]);
        let found = search_candidates("+61 2 6216 0100", &[]);
        assert_eq!(found, vec![PhoneNumber::from_trusted_e164("+61262160100")]);
        assert!(search_candidates("hello", &["GB"]).is_empty());
        assert!(search_candidates("", &["GB"]).is_empty());
    }

    #[test]
    fn search_candidates_are_deduplicated() {
        let found = search_candidates("+442073794334", &["GB", "GB", "SG"]);
        assert_eq!(found.len(), 1);
        let found = search_candidates("442073794334", &["GB", "GB"]);
        assert_eq!(found, vec![PhoneNumber::from_trusted_e164("+442073794334")]);
    }

    const REGIONS: [&str; 12] = ["GB", "SG", "AU", "US", "FR", "DE", "IN", "BR", "JP", "IT", "CH", "NZ"];

    proptest! {
        #[test]
        fn search_candidates_never_panic_on_any_text(raw in any::<String>()) {
            let _ = search_candidates(&raw, &REGIONS);
            let _ = PhoneNumber::parse(&raw, Some("GB"));
        }

        #[test]
        fn number_like_text_never_panics_and_results_are_valid_e164(
            raw in "[+0]{0,2}[0-9 ()./-]{0,24}",
            region in proptest::sample::select(REGIONS.to_vec()),
        ) {
            for hit in search_candidates(&raw, &[region]) {
                // Every candidate is a valid E.164 number that reads back to itself (or is premium-rate,
                // which search still finds).
                match PhoneNumber::parse(hit.as_str(), None) {
                    Ok(again) => prop_assert_eq!(again, hit),
                    Err(e) => prop_assert!(matches!(e, PhoneError::PremiumRate(_)), "{}: {}", hit, e),
                }
            }
            if let Ok(n) = PhoneNumber::parse(&raw, Some(region)) {
                prop_assert!(n.as_str()[1..].bytes().all(|b| b.is_ascii_digit()));
                // A parsed number reads back to itself whatever region is used.
                prop_assert_eq!(PhoneNumber::parse(n.as_str(), Some("JP")), Ok(n.clone()));
                let _ = n.inferred_timezone();
            }
        }
    }
}
