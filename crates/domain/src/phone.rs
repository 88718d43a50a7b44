//! Phone numbers: parse any format into E.164 with a campaign's region, refuse impossible and
//! premium-rate numbers, and infer a lead's timezone from the number.
//!
//! Parsing uses the `phonenumber` crate (libphonenumber metadata), with a fast path for the parts
//! that are pure pattern matching. The crate matches every metadata pattern through
//! `regex_cache::CachedRegex`, which looks the compiled regex up in one `Mutex<LruCache>` shared by
//! all threads, keyed by the (long) pattern text — a SipHash of it, under the lock, on every match.
//! A parse matches a dozen or more patterns (the number's type; and for shared country codes such
//! as +44 — GB/GG/IM/JE — or +1, the region too), so under load this cache was most of a create's
//! parse cost and a point of contention. The `fast` module below answers `number.is_valid()` and
//! `number.number_type(&DATABASE)` — a number must be valid, and its type must not be premium rate
//! — with our own copies of the same patterns. Both are the crate's `validator::source_for` +
//! `validator::number_type`, but validity reads the national number with its leading zeros and the
//! type without them, so neither answers the other (`+39 02 3661 8300` is valid with type
//! `Unknown`; `+1 0201 555 0123` is invalid with type `FixedLineOrMobile`). Our patterns are
//! compiled once per process with the crate's builder options, found by the metadata entry's
//! address with a binary search, no lock, no hashing. It also names the region the crate would pick for international text, so the crate's parser can
//! skip its own region search; and E.164 text is written directly (the crate's formatter first
//! matches format patterns E.164 never uses). The fast path mirrors phonenumber 0.3.10's code, not
//! libphonenumber's (a pattern counts when it matches at the start, not the whole number); the
//! tests compare it with the crate on every example number of every region and on random digits.
//!
//! The timezone map is
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
    use std::sync::{LazyLock, OnceLock};

    use jiff::Timestamp;
    use jiff::tz::TimeZone;
    use phonenumber::Type;
    use phonenumber::country::Id;
    use phonenumber::metadata::DATABASE;

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
        // International text is read as the crate reads it without a region; the region
        // `region_for_international` names (when it names one) gives the same answer, faster.
        let mut known = super::fast::KnownType::default();
        let (text, region) = match digits {
            Digits::International(d) => (format!("+{d}"), super::fast::region_for_international_noting(d, &mut known)),
            // Without a region a national-looking number can only be read as international
            // written without its `+` (`442073794334`).
            Digits::National(d) => match region {
                Some(id) => (d.clone(), Some(id)),
                None => (format!("+{d}"), super::fast::region_for_international_noting(d, &mut known)),
            },
        };
        let number = phonenumber::parse(region, &text).ok()?;
        // The crate's `number.is_valid()` then `number.number_type(&DATABASE)`, without its regex
        // cache (see the module doc). The two are separate questions: validity reads the national
        // number with its leading zeros, the type without them, so a valid number can have type
        // `Unknown` (Italian landlines, `+39 02 …`) and a typed one be invalid (`+1 0201 …`).
        // Most numbers have no leading zero, and then both read the same digits the region choice
        // above already typed: `known` keeps that answer so it is worked out once, not three times.
        if !super::fast::is_valid_noting(&number, &mut known) {
            return None;
        }
        let kind = super::fast::number_type_noting(&number, &mut known);
        Some((e164(&number), kind))
    }

    /// What `number.format().mode(Mode::E164).to_string()` writes: `+`, the country code and the
    /// national number with its leading zeros. The crate's formatter also picks a national format
    /// by matching regexes, which E.164 never uses.
    fn e164(number: &phonenumber::PhoneNumber) -> String {
        format!("+{}{}", number.country().code(), number.national())
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
        /// Prefix → index into `lists`.
        zones: HashMap<&'static str, usize>,
        /// Each distinct zone list once, with its answer (see [`resolve`]) worked out on first use.
        lists: Vec<(&'static str, OnceLock<Option<&'static str>>)>,
        alone: HashMap<&'static str, usize>,
        /// The longest prefix, so a lookup starts there rather than at the whole number.
        longest: usize,
    }

    static TABLE: LazyLock<PrefixTable> = LazyLock::new(|| {
        let mut zones = HashMap::new();
        let mut list_index: HashMap<&'static str, usize> = HashMap::new();
        let mut lists = Vec::new();
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
            let index = *list_index.entry(names).or_insert_with(|| {
                lists.push((names, OnceLock::new()));
                lists.len() - 1
            });
            zones.insert(prefix, index);
        }
        let longest = zones.keys().map(|prefix| prefix.len()).max().unwrap_or(0);
        PrefixTable { zones, lists, alone, longest }
    });

    /// The answer for a zone list: comparing rules costs a walk through each zone's transitions,
    /// so it is done once per list (a few hundred lists share a few dozen zones), without a lock
    /// on the way to an answer already known.
    fn resolve(index: usize) -> Option<&'static str> {
        let (names, answer) = &TABLE.lists[index];
        *answer.get_or_init(|| {
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
        let longest = digits.len().min(TABLE.longest);
        let index = (1..=longest).rev().find_map(|len| TABLE.zones.get(&digits[..len]).copied())?;
        resolve(index)
    }
}

/// `PhoneNumber::is_valid` and `PhoneNumber::number_type` from the `phonenumber` crate (region
/// selection plus type), answered with regexes compiled once per process instead of through the crate's shared regex cache. See
/// the module doc; every function here mirrors one in the crate's `validator.rs`,
/// `phone_number.rs` or `parser/` (version 0.3.10) step for step, and the tests below hold it to
/// the crate's own answers. Upgrading `phonenumber` means re-reading those files.
mod fast {
    use std::sync::{LazyLock, OnceLock};

    use phonenumber::country::Id;
    use phonenumber::metadata::{DATABASE, Database, Descriptor, Metadata};
    use phonenumber::{PhoneNumber as Parsed, Type};
    use regex::{Regex, RegexBuilder};

    /// Where a pattern lives in the crate's database: a descriptor's national-number pattern, or a
    /// region's leading-digits or international-prefix pattern.
    #[derive(Clone, Copy)]
    enum Source {
        Descriptor(&'static Descriptor),
        LeadingDigits(&'static Metadata),
        InternationalPrefix(&'static Metadata),
    }

    /// One of the database's patterns and our own compiled copy of it, compiled on first use.
    struct Pattern {
        source: Source,
        compiled: OnceLock<Compiled>,
    }

    /// Our copy of a pattern.
    enum Compiled {
        /// `^(?:pattern)`. The crate asks whether the leftmost match starts at 0, i.e. whether any
        /// match starts at 0, which is exactly when this matches; and an anchored search gives up
        /// at the first digit that cannot continue a match instead of retrying at every position.
        Anchored(Regex),
        /// The pattern as it is, searched as the crate searches it (text [`anchorable`] does not
        /// vouch for).
        AsIs(Regex),
        /// Our copy would not compile (the crate's would panic): the crate answers.
        Crate,
    }

    impl Pattern {
        fn new(source: Source) -> Pattern {
            Pattern { source, compiled: OnceLock::new() }
        }

        /// The crate's `CachedRegex::find(value)` followed by `start() == 0`, which is how it tests
        /// a pattern (a match at the start, not a full match as in libphonenumber). Same `regex`
        /// crate, same pattern text, same builder options: same answer.
        fn matches_at_start(&self, value: &str) -> bool {
            match self.compiled() {
                Compiled::Anchored(regex) => regex.is_match(value),
                Compiled::AsIs(regex) => regex.find(value).is_some_and(|m| m.start() == 0),
                Compiled::Crate => self.crate_matches_at_start(value),
            }
        }

        fn compiled(&self) -> &Compiled {
            self.compiled.get_or_init(|| {
                let Some(source) = self.source_text() else { return Compiled::Crate };
                let anchored = anchorable(source).then(|| compile(&format!("^(?:{source})"))).flatten();
                match anchored {
                    Some(regex) => Compiled::Anchored(regex),
                    None => compile(source).map_or(Compiled::Crate, Compiled::AsIs),
                }
            })
        }

        fn source_text(&self) -> Option<&'static str> {
            match self.source {
                Source::Descriptor(desc) => Some(desc.national_number().as_str()),
                Source::LeadingDigits(meta) => meta.leading_digits().map(|p| p.as_str()),
                Source::InternationalPrefix(meta) => meta.international_prefix().map(|p| p.as_str()),
            }
        }

        fn crate_matches_at_start(&self, value: &str) -> bool {
            let found = match self.source {
                Source::Descriptor(desc) => desc.national_number().find(value),
                Source::LeadingDigits(meta) => meta.leading_digits().and_then(|p| p.find(value)),
                Source::InternationalPrefix(meta) => meta.international_prefix().and_then(|p| p.find(value)),
            };
            found.is_some_and(|m| m.start() == 0)
        }
    }

    /// Whether `^(?:source)` means "`source` matches at the start": true for text made only of
    /// what phone patterns use (digits, `\d`, classes, groups, alternation, repetition,
    /// whitespace), which has no comment (`#`) or flag group to escape the wrapping group.
    fn anchorable(source: &str) -> bool {
        let mut chars = source.chars();
        while let Some(c) = chars.next() {
            match c {
                '0'..='9' | '[' | ']' | '(' | ')' | '|' | '?' | ':' | '{' | '}' | ',' | '-' | '*' | '+' => {}
                c if c.is_ascii_whitespace() => {}
                '\\' if chars.next() == Some('d') => {}
                _ => return false,
            }
        }
        true
    }

    /// Compiles a database pattern exactly as the crate does: `Database::from` builds every
    /// pattern with `ignore_whitespace(true)` and `regex_cache`'s default options (spelled out here).
    fn compile(source: &str) -> Option<Regex> {
        RegexBuilder::new(source)
            .case_insensitive(false)
            .multi_line(false)
            .dot_matches_new_line(false)
            .swap_greed(false)
            .ignore_whitespace(true)
            .unicode(true)
            .size_limit(10 * (1 << 20))
            .dfa_size_limit(2 * (1 << 20))
            .build()
            .ok()
    }

    /// A descriptor and its pattern.
    struct Desc {
        desc: &'static Descriptor,
        pattern: Pattern,
    }

    impl Desc {
        fn new(desc: &'static Descriptor) -> Desc {
            Desc { desc, pattern: Pattern::new(Source::Descriptor(desc)) }
        }

        /// Mirrors `Descriptor::is_match`: the length must be possible, then the pattern must match
        /// at the start.
        fn is_match(&self, value: &str) -> bool {
            let lengths = self.desc.possible_length();
            if !lengths.is_empty() && !lengths.contains(&(value.len() as u16)) {
                return false;
            }
            self.pattern.matches_at_start(value)
        }
    }

    /// One region's metadata with its patterns, in the order `validator::number_type` tries them.
    struct Region {
        meta: &'static Metadata,
        general: Desc,
        premium_rate: Option<Desc>,
        toll_free: Option<Desc>,
        shared_cost: Option<Desc>,
        voip: Option<Desc>,
        personal_number: Option<Desc>,
        pager: Option<Desc>,
        uan: Option<Desc>,
        voicemail: Option<Desc>,
        fixed_line: Option<Desc>,
        mobile: Option<Desc>,
        /// The fixed-line and mobile patterns are the same text (the crate compares `as_str()`).
        fixed_line_is_mobile: bool,
        leading_digits: Option<Pattern>,
        international_prefix: Option<Pattern>,
    }

    impl Region {
        fn new(meta: &'static Metadata) -> Region {
            let d = meta.descriptors();
            let pattern_text = |desc: Option<&'static Descriptor>| desc.map(|desc| desc.national_number().as_str());
            Region {
                meta,
                general: Desc::new(d.general()),
                premium_rate: d.premium_rate().map(Desc::new),
                toll_free: d.toll_free().map(Desc::new),
                shared_cost: d.shared_cost().map(Desc::new),
                voip: d.voip().map(Desc::new),
                personal_number: d.personal_number().map(Desc::new),
                pager: d.pager().map(Desc::new),
                uan: d.uan().map(Desc::new),
                voicemail: d.voicemail().map(Desc::new),
                fixed_line: d.fixed_line().map(Desc::new),
                mobile: d.mobile().map(Desc::new),
                fixed_line_is_mobile: pattern_text(d.fixed_line()) == pattern_text(d.mobile()),
                leading_digits: meta.leading_digits().map(|_| Pattern::new(Source::LeadingDigits(meta))),
                international_prefix: meta
                    .international_prefix()
                    .map(|_| Pattern::new(Source::InternationalPrefix(meta))),
            }
        }

        /// Mirrors `validator::number_type`.
        fn number_type(&self, value: &str) -> Type {
            let hit = |desc: &Option<Desc>| desc.as_ref().is_some_and(|d| d.is_match(value));
            if !self.general.is_match(value) {
                return Type::Unknown;
            }
            for (desc, kind) in [
                (&self.premium_rate, Type::PremiumRate),
                (&self.toll_free, Type::TollFree),
                (&self.shared_cost, Type::SharedCost),
                (&self.voip, Type::Voip),
                (&self.personal_number, Type::PersonalNumber),
                (&self.pager, Type::Pager),
                (&self.uan, Type::Uan),
                (&self.voicemail, Type::Voicemail),
            ] {
                if hit(desc) {
                    return kind;
                }
            }
            if hit(&self.fixed_line) {
                if self.fixed_line_is_mobile || hit(&self.mobile) {
                    return Type::FixedLineOrMobile;
                }
                return Type::FixedLine;
            }
            if hit(&self.mobile) {
                return Type::Mobile;
            }
            Type::Unknown
        }

        /// Mirrors the `leading_digits` test in `validator::source_for`.
        fn leading_digits_match(&self, value: &str) -> Option<bool> {
            self.leading_digits.as_ref().map(|p| p.matches_at_start(value))
        }
    }

    fn database() -> &'static Database {
        &DATABASE
    }

    fn address(meta: &Metadata) -> usize {
        std::ptr::from_ref(meta) as usize
    }

    /// Every region's metadata in the database, sorted by its address (the database is a
    /// process-wide static that is never mutated, so addresses are stable). Built once without
    /// compiling anything; afterwards readers only do a binary search and an atomic load per
    /// pattern — no lock, no hashing of pattern text.
    static REGIONS: LazyLock<Vec<Region>> = LazyLock::new(|| {
        let db = database();
        // Country calling codes have at most three digits. `by_code` holds every entry, including
        // the non-geographic ones (`001`) that `by_id` keeps only one of.
        let mut metas: Vec<&'static Metadata> =
            (0..1000u16).filter_map(|code| db.by_code(&code)).flatten().chain(db.iter()).collect();
        metas.sort_by_key(|meta| address(meta));
        metas.dedup_by_key(|meta| address(meta));
        metas.into_iter().map(Region::new).collect()
    });

    /// Runs `f` with the compiled view of `meta`. Metadata not in the index cannot come from the
    /// static database, but would still get the right answer from an uncached view.
    fn with_region<T>(meta: &'static Metadata, f: impl FnOnce(&Region) -> T) -> T {
        match REGIONS.binary_search_by_key(&address(meta), |region| address(region.meta)) {
            Ok(i) => f(&REGIONS[i]),
            Err(_) => f(&Region::new(meta)),
        }
    }

    /// Mirrors `validator::source_for` followed by the lookup in `PhoneNumber::metadata`. Where
    /// the crate unwraps (a shared code naming a region it cannot parse or find) this answers
    /// `None`; the tests check the bundled database never gets there.
    #[cfg(test)]
    pub(super) fn metadata(code: u16, national: &str) -> Option<&'static Metadata> {
        select(code, national).map(|(meta, _)| meta)
    }

    /// [`metadata`], with the entry's type for `national` when choosing the entry already worked
    /// it out (a region without leading digits is chosen for a type other than `Unknown`; the
    /// crate then works the same type out again).
    fn select(code: u16, national: &str) -> Option<(&'static Metadata, Option<Type>)> {
        let db = database();
        let regions = db.region(&code)?;
        if regions.len() == 1 {
            let meta = if regions[0] == "001" {
                db.by_code(&code).and_then(|m| m.into_iter().next())
            } else {
                let id: Id = regions[0].parse().ok()?;
                db.by_id(id.as_ref())
            };
            return meta.map(|meta| (meta, None));
        }
        for region in regions {
            let meta = db.by_id(region)?;
            let (chosen, kind) = with_region(meta, |fast| match fast.leading_digits_match(national) {
                Some(matched) => (matched, None),
                None => {
                    let kind = fast.number_type(national);
                    (kind != Type::Unknown, Some(kind))
                }
            });
            if chosen {
                let id: Id = region.parse().ok()?;
                let found = db.by_id(id.as_ref())?;
                return Some((found, kind.filter(|_| std::ptr::eq(found, meta))));
            }
        }
        None
    }

    /// Compiles every pattern of the database; answers how many are anchored, searched as they
    /// are, and left to the crate.
    #[cfg(test)]
    pub(super) fn compile_all() -> [usize; 3] {
        let mut counts = [0; 3];
        for region in REGIONS.iter() {
            let descs = [&region.premium_rate, &region.toll_free, &region.shared_cost, &region.voip]
                .into_iter()
                .chain([&region.personal_number, &region.pager, &region.uan, &region.voicemail])
                .chain([&region.fixed_line, &region.mobile])
                .flatten()
                .chain([&region.general]);
            let others = [&region.leading_digits, &region.international_prefix].into_iter().flatten();
            for pattern in descs.map(|d| &d.pattern).chain(others) {
                counts[match pattern.compiled() {
                    Compiled::Anchored(_) => 0,
                    Compiled::AsIs(_) => 1,
                    Compiled::Crate => 2,
                }] += 1;
            }
        }
        counts
    }

    /// A region to read `+{digits}` with, chosen so that `phonenumber::parse(Some(region), text)`
    /// answers exactly what `phonenumber::parse(None, text)` answers; `None` when that cannot be
    /// shown (the caller then reads without a region, as before).
    ///
    /// Without a region the crate picks the region itself by calling `validator::source_for`
    /// through its regex cache — the bulk of a parse's cost for shared codes like +44. With a
    /// region, `parser::parse_with` differs in two places only: `helper::country_code` first
    /// strips that region's international prefix (IDD) when it matches right after the `+`, and
    /// the metadata used for the national prefix is `by_id(region)` instead of `source_for`'s
    /// choice. So: mirror the country-code extraction of `helper::country_code` (source `Plus`),
    /// make `source_for`'s choice with our patterns, and accept it only when `by_id` gives back
    /// that very entry and its IDD does not match the digits.
    #[cfg(test)]
    pub(super) fn region_for_international(digits: &str) -> Option<Id> {
        region_for_international_noting(digits, &mut KnownType::default())
    }

    /// [`region_for_international`], noting in `known` the type it worked out on the way.
    pub(super) fn region_for_international_noting(digits: &str, known: &mut KnownType) -> Option<Id> {
        const MIN_LENGTH_FOR_NSN: usize = 2;
        const MAX_LENGTH_FOR_COUNTRY_CODE: usize = 3;
        let db = database();
        if digits.len() <= MIN_LENGTH_FOR_NSN || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None; // the crate refuses these; let it say so itself
        }
        let (code, national) = (1..=MAX_LENGTH_FOR_COUNTRY_CODE).find_map(|len| {
            let code: u16 = digits.get(..len)?.parse().ok()?;
            db.by_code(&code).is_some().then(|| (code, &digits[len..]))
        })?;
        let national = national.trim_start_matches('0');
        let (meta, kind) = select(code, national)?;
        if let Some(kind) = kind {
            // `select` answered with the chosen entry's type: `type_of(code, national)`.
            known.note(code, national, kind);
        }
        let id: Id = meta.id().parse().ok()?;
        let same_entry = db.by_id(id.as_ref()).is_some_and(|by_id| std::ptr::eq(by_id, meta));
        let idd_matches = with_region(meta, |fast| {
            fast.international_prefix.as_ref().is_some_and(|idd| idd.matches_at_start(digits))
        });
        (same_entry && !idd_matches).then_some(id)
    }

    /// `number.is_valid()` (the crate's `validator::is_valid_with`), answered with our compiled
    /// patterns: the entry `source_for` chooses, then its type, must not be `Unknown`.
    ///
    /// Not the same as `number_type(number) != Type::Unknown`: the crate reads the national number
    /// here *with* its leading zeros (`national.to_string()`), both to choose the entry and to
    /// match its patterns. `+39 02 3661 8300` (Milan) is valid though its type is `Unknown`;
    /// `+1 0201 555 0123` is invalid though its type is `FixedLineOrMobile`.
    #[cfg(test)]
    pub(super) fn is_valid(number: &Parsed) -> bool {
        is_valid_noting(number, &mut KnownType::default())
    }

    /// [`is_valid`], answering from `known` (and noting in it) when the digits are the same.
    pub(super) fn is_valid_noting(number: &Parsed, known: &mut KnownType) -> bool {
        let national = number.national().to_string();
        known.type_of(number.country().code(), &national) != Type::Unknown
    }

    /// `number.number_type(&DATABASE)`, answered with our compiled patterns.
    #[cfg(test)]
    pub(super) fn number_type(number: &Parsed) -> Type {
        number_type_noting(number, &mut KnownType::default())
    }

    /// [`number_type`], answering from `known` (and noting in it) when the digits are the same.
    pub(super) fn number_type_noting(number: &Parsed, known: &mut KnownType) -> Type {
        // The crate reads the national number here without its leading zeros (`value()`).
        let national = number.national().value().to_string();
        known.type_of(number.code().value(), &national)
    }

    /// The last [`type_of`] answer of one parse, by its arguments: `type_of` is a pure function
    /// of them, and a parse asks it about the same digits up to three times.
    #[derive(Default)]
    pub(super) struct KnownType {
        last: Option<(u16, String, Type)>,
    }

    impl KnownType {
        fn note(&mut self, code: u16, national: &str, kind: Type) {
            self.last = Some((code, national.to_string(), kind));
        }

        fn type_of(&mut self, code: u16, national: &str) -> Type {
            match &self.last {
                Some((c, n, kind)) if *c == code && n == national => *kind,
                _ => {
                    let kind = type_of(code, national);
                    self.note(code, national, kind);
                    kind
                }
            }
        }
    }

    /// `validator::number_type` of the entry `validator::source_for` chooses for `national` (or
    /// `Unknown` when it chooses none), both reading `national` exactly as given.
    fn type_of(code: u16, national: &str) -> Type {
        match select(code, national) {
            Some((_, Some(kind))) => kind,
            Some((meta, None)) => with_region(meta, |fast| fast.number_type(national)),
            None => Type::Unknown,
        }
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

    // The fast path must answer exactly what the crate answers. `reference` is the implementation
    // of a parse before the fast path (crate `is_valid`, then crate `number_type`, then crate E.164
    // formatting) for text that is already clean; every check compares it, and the crate's
    // `is_valid` and `number_type`, with ours.

    mod fast_path {
        use super::*;
        use phonenumber::metadata::{DATABASE, Descriptors, Metadata};
        use phonenumber::{Mode, Type};

        const REGIONS: [&str; 18] = [
            "GB", "SG", "AU", "US", "CA", "DE", "FR", "IN", "JE", "GG", "IM", "NZ", "IE", "NL", "ES", "IT", "BR", "JP",
        ];

        /// What the previous implementation gave the crate for clean text: international text
        /// (`+…`, `00…`) as `+…` without a region, anything else as it is with the region.
        fn read_with(text: &str, region: &str) -> (String, Option<phonenumber::country::Id>) {
            match text.strip_prefix("00") {
                Some(rest) => (format!("+{rest}"), None),
                None if text.starts_with('+') => (text.to_string(), None),
                None => (text.to_string(), Some(region.parse().unwrap())),
            }
        }

        /// What a parse answered before the fast path: the E.164 text, or which refusal. Invalid
        /// per the crate's `is_valid` is impossible; otherwise premium rate per its `number_type`
        /// is refused and any other type, `Unknown` included, is accepted.
        fn reference(text: &str, region: &str) -> Result<String, &'static str> {
            let (text, id) = read_with(text, region);
            let Ok(number) = phonenumber::parse(id, &text) else { return Err("impossible") };
            if !number.is_valid() {
                return Err("impossible");
            }
            match number.number_type(&DATABASE) {
                Type::PremiumRate => Err("premium-rate"),
                _ => Ok(number.format().mode(Mode::E164).to_string()),
            }
        }

        fn ours(text: &str, region: &str) -> Result<String, &'static str> {
            match PhoneNumber::parse(text, Some(region)) {
                Ok(n) => Ok(n.into_string()),
                Err(PhoneError::Impossible(_)) => Err("impossible"),
                Err(PhoneError::PremiumRate(_)) => Err("premium-rate"),
                Err(e) => panic!("{text} with {region}: unexpected {e}"),
            }
        }

        /// What the crate says of a parsed number: whether it is valid, and its type.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        struct Verdict {
            valid: bool,
            kind: Type,
        }

        /// Checks one text read with one region: same metadata entry, validity and type as the
        /// crate, same parse result as before. Returns the crate's verdict, for coverage counts.
        fn check(text: &str, region: &str) -> Option<Verdict> {
            let (read, id) = read_with(text, region);
            let verdict = phonenumber::parse(id, &read).ok().map(|number| {
                // The same entry of the database (region selection for shared codes), not just an
                // equal one.
                let national = number.national().value().to_string();
                let theirs = number.metadata(&DATABASE).map(std::ptr::from_ref);
                let ours = fast::metadata(number.code().value(), &national).map(std::ptr::from_ref);
                assert_eq!(ours, theirs, "metadata of {text} read with {region}");
                let valid = number.is_valid();
                assert_eq!(fast::is_valid(&number), valid, "validity of {text} read with {region}");
                let kind = number.number_type(&DATABASE);
                assert_eq!(fast::number_type(&number), kind, "number type of {text} read with {region}");
                Verdict { valid, kind }
            });
            if let Some(digits) = read.strip_prefix('+')
                && let Some(id) = fast::region_for_international(digits)
            {
                // Reading with the region we name is reading without one, to the last field.
                let parse = |id| phonenumber::parse(id, &read).map_err(|e| format!("{e:?}"));
                assert_eq!(parse(Some(id)), parse(None), "{read} with {id:?}");
                PRE_RESOLVED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            assert_eq!(ours(text, region), reference(text, region), "{text} read with {region}");
            verdict
        }

        /// How many international texts `check` saw read with a region named by the fast path.
        static PRE_RESOLVED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

        fn descriptors(d: &Descriptors) -> Vec<&phonenumber::metadata::Descriptor> {
            [
                Some(d.general()),
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.shared_cost(),
                d.personal_number(),
                d.voip(),
                d.pager(),
                d.uan(),
                d.emergency(),
                d.voicemail(),
                d.short_code(),
                d.standard_rate(),
                d.carrier(),
                d.no_international(),
            ]
            .into_iter()
            .flatten()
            .collect()
        }

        /// Every metadata entry: `by_code` holds all of them, including every non-geographic one.
        fn all_metadata() -> Vec<&'static Metadata> {
            (0..1000u16).filter_map(|code| DATABASE.by_code(&code)).flatten().collect()
        }

        fn examples(meta: &Metadata) -> Vec<String> {
            descriptors(meta.descriptors()).into_iter().filter_map(|d| d.example()).map(str::to_string).collect()
        }

        /// A region code a text can be read with: the entry's own, or (for the non-geographic
        /// entries, `001`) any, since international text ignores it.
        fn region_of(meta: &Metadata) -> &str {
            if meta.id() == "001" { "GB" } else { meta.id() }
        }

        /// The example itself, and variants near it: one digit longer or shorter, each digit
        /// changed, with and without the country code, with a national prefix `0`.
        fn variants(example: &str) -> Vec<String> {
            let mut out = vec![example.to_string(), format!("{example}5"), format!("0{example}")];
            if example.len() > 1 {
                out.push(example[..example.len() - 1].to_string());
                out.push(example[1..].to_string());
            }
            for (i, c) in example.char_indices() {
                for d in ['0', '1', '3', '7', '9'] {
                    if d != c {
                        out.push(format!("{}{d}{}", &example[..i], &example[i + 1..]));
                    }
                }
            }
            out
        }

        #[test]
        fn every_example_of_every_region_and_its_neighbours_agree_with_the_crate() {
            let mut kinds = std::collections::HashMap::<Type, usize>::new();
            let mut verdicts = std::collections::HashMap::<(bool, bool), usize>::new();
            let mut checked = 0;
            for meta in all_metadata() {
                let region = region_of(meta);
                let code = meta.country_code();
                for example in examples(meta) {
                    for national in variants(&example) {
                        for text in [format!("+{code}{national}"), national.clone()] {
                            if let Some(Verdict { valid, kind }) = check(&text, region) {
                                *kinds.entry(kind).or_default() += 1;
                                *verdicts.entry((valid, kind != Type::Unknown)).or_default() += 1;
                            }
                            checked += 1;
                        }
                    }
                }
            }
            assert!(checked > 50_000, "only {checked} checked");
            // Most international texts skip the crate's own region search (the others are refused
            // early, non-geographic, or start with the region's international prefix).
            let pre_resolved = PRE_RESOLVED.load(std::sync::atomic::Ordering::Relaxed);
            assert!(pre_resolved > checked / 4, "{pre_resolved} of {checked}");
            // The sweep reaches every answer the type can give.
            for kind in [
                Type::Unknown,
                Type::FixedLine,
                Type::Mobile,
                Type::FixedLineOrMobile,
                Type::TollFree,
                Type::PremiumRate,
                Type::SharedCost,
                Type::Voip,
                Type::PersonalNumber,
                Type::Pager,
                Type::Uan,
                Type::Voicemail,
            ] {
                assert!(kinds.get(&kind).copied().unwrap_or(0) > 0, "no {kind:?} in {kinds:?}");
            }
            // And every combination of validity and type, including the two where they disagree
            // (valid with type `Unknown`, invalid with a type).
            for valid in [false, true] {
                for typed in [false, true] {
                    let seen = verdicts.get(&(valid, typed)).copied().unwrap_or(0);
                    assert!(seen > 0, "no valid={valid} typed={typed} in {verdicts:?}");
                }
            }
        }

        #[test]
        fn validity_reads_leading_zeros_and_the_type_does_not() {
            // Milan, the crate's own valid example: valid (`0236618300` is an Italian fixed line)
            // though its type, read as `236618300`, is `Unknown`. Accepted, as before the fast path.
            let milan = phonenumber::parse(None, "+390236618300").unwrap();
            assert!(milan.is_valid() && fast::is_valid(&milan));
            assert_eq!(milan.number_type(&DATABASE), Type::Unknown);
            assert_eq!(fast::number_type(&milan), Type::Unknown);
            for (raw, region) in
                [("+39 02 3661 8300", None), ("02 3661 8300", Some("IT")), ("0039 02 3661 8300", Some("GB"))]
            {
                assert_eq!(e164(raw, region), "+390236618300", "{raw} with {region:?}");
            }
            check("+390236618300", "IT");
            check("0236618300", "IT");

            // `+1 0201 555 0123`: typed as `2015550123` (a NANPA number) but invalid as
            // `02015550123`. Refused, as before the fast path.
            let nanpa = phonenumber::parse(None, "+102015550123").unwrap();
            assert!(!nanpa.is_valid() && !fast::is_valid(&nanpa));
            assert_eq!(nanpa.number_type(&DATABASE), Type::FixedLineOrMobile);
            assert_eq!(fast::number_type(&nanpa), Type::FixedLineOrMobile);
            for region in [None, Some("US"), Some("GB")] {
                let parsed = PhoneNumber::parse("+1 0201 555 0123", region);
                assert!(matches!(parsed, Err(PhoneError::Impossible(_))), "{region:?}: {parsed:?}");
            }
            check("+102015550123", "US");
            // Without the zero it is an ordinary valid number.
            assert_eq!(e164("+1 201 555 0123", None), "+12015550123");
        }

        #[test]
        fn shared_country_codes_pick_the_same_region_as_the_crate() {
            // +44: GB/GG/IM/JE; +1: NANPA; +7: RU/KZ; +61: AU/CC/CX; +262: RE/YT; +590: GP/BL/MF.
            for code in [44u16, 1, 7, 61, 262, 590, 599, 47, 358, 212, 290] {
                let metas = DATABASE.by_code(&code).unwrap();
                assert!(metas.len() > 1, "+{code} is not shared");
                for meta in metas {
                    for example in examples(meta) {
                        for national in variants(&example) {
                            let text = format!("+{code}{national}");
                            for region in REGIONS {
                                check(&text, region);
                            }
                            if let Ok(number) = phonenumber::parse(None, &text) {
                                assert_eq!(fast::number_type(&number), number.number_type(&DATABASE), "{text}");
                                assert_eq!(fast::is_valid(&number), number.is_valid(), "{text}");
                            }
                        }
                    }
                }
            }
        }

        #[test]
        fn every_pattern_in_the_database_compiles_anchored() {
            let [anchored, as_is, left_to_crate] = fast::compile_all();
            assert!(anchored > 1000, "{anchored}");
            assert_eq!((as_is, left_to_crate), (0, 0));
        }

        #[test]
        fn the_database_never_reaches_the_crates_unwraps_in_region_selection() {
            // `source_for` unwraps where `fast::metadata` answers `None`: show it never happens.
            for code in 0..1000u16 {
                let Some(regions) = DATABASE.region(&code) else { continue };
                if regions.len() > 1 {
                    for region in regions {
                        let id: phonenumber::country::Id = region.parse().unwrap();
                        assert!(DATABASE.by_id(id.as_ref()).is_some(), "{region}");
                    }
                }
            }
        }

        #[test]
        fn answers_agree_across_threads_sharing_the_compiled_patterns() {
            let threads: Vec<_> = (0..4)
                .map(|t| {
                    std::thread::spawn(move || {
                        for i in 0..300u32 {
                            let region = REGIONS[(i as usize + t) % REGIONS.len()];
                            check(&format!("+44{}{:06}", 7 + (i % 3), i * 7919 % 1_000_000), region);
                            check(&format!("0{}{:07}", 2 + (i % 8), i * 104_729 % 10_000_000), region);
                        }
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
        }

        fn example_prefix(region: &str, pick: prop::sample::Index) -> String {
            let meta = DATABASE.by_id(region).unwrap();
            let examples = examples(meta);
            examples[pick.index(examples.len())].clone()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(3000))]

            #[test]
            fn random_national_digits_agree_with_the_crate(
                region in proptest::sample::select(REGIONS.to_vec()),
                national in "[0-9]{1,16}",
            ) {
                let code = DATABASE.by_id(region).unwrap().country_code();
                check(&national, region);
                check(&format!("+{code}{national}"), region);
            }

            #[test]
            fn digits_that_start_like_a_real_number_agree_with_the_crate(
                region in proptest::sample::select(REGIONS.to_vec()),
                pick in any::<prop::sample::Index>(),
                keep in 0usize..12,
                tail in "[0-9]{0,9}",
                trunk in any::<bool>(),
            ) {
                let example = example_prefix(region, pick);
                let national = format!("{}{tail}", &example[..keep.min(example.len())]);
                prop_assume!(!national.is_empty());
                let code = DATABASE.by_id(region).unwrap().country_code();
                check(&if trunk { format!("0{national}") } else { national.clone() }, region);
                check(&format!("+{code}{national}"), region);
            }
        }
    }
}
