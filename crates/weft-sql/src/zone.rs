//! Time zones as ksqlDB's time functions take them: fixed offsets (`+02:00`, `UTC`) and IANA
//! region names (`America/Los_Angeles`) with their daylight-saving rules.

use chrono::{DateTime, LocalResult, Offset, TimeZone};
use chrono_tz::{OffsetName, Tz};

/// A time zone: a fixed offset in minutes east of UTC, or a region of the IANA database.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    Fixed(i64),
    Region(Tz),
}

/// Short zone names as Java's `DateTimeFormatter` reads them in parsed text (pattern letter `z`):
/// each stands for the region whose rules then decide the offset, so `PST` in May is `-07:00`.
const ABBREVIATIONS: [(&str, Tz); 20] = [
    ("PST", Tz::America__Los_Angeles),
    ("PDT", Tz::America__Los_Angeles),
    ("MST", Tz::America__Denver),
    ("MDT", Tz::America__Denver),
    ("CST", Tz::America__Chicago),
    ("CDT", Tz::America__Chicago),
    ("EST", Tz::America__New_York),
    ("EDT", Tz::America__New_York),
    ("AKST", Tz::America__Anchorage),
    ("AKDT", Tz::America__Anchorage),
    ("HST", Tz::Pacific__Honolulu),
    ("BST", Tz::Europe__London),
    ("CET", Tz::Europe__Paris),
    ("CEST", Tz::Europe__Paris),
    ("EET", Tz::Europe__Athens),
    ("EEST", Tz::Europe__Athens),
    ("IST", Tz::Asia__Kolkata),
    ("JST", Tz::Asia__Tokyo),
    ("AEST", Tz::Australia__Sydney),
    ("AEDT", Tz::Australia__Sydney),
];

const MINUTE_MS: i64 = 60_000;

impl Zone {
    /// UTC.
    pub const UTC: Zone = Zone::Fixed(0);

    /// A zone argument (`'America/New_York'`, `'+0200'`, `'UTC'`), as Java's `ZoneId.of` reads it.
    pub fn parse(text: &str) -> Option<Zone> {
        let text = text.trim();
        if let Some(minutes) = parse_offset(text) {
            return Some(Zone::Fixed(minutes));
        }
        text.parse::<Tz>().ok().map(Zone::Region)
    }

    /// Zone text inside a parsed timestamp: also the short names (`PST`, `BST`), case-insensitive
    /// as ksqlDB's parser is.
    pub fn parse_text(text: &str) -> Option<Zone> {
        let upper = text.trim().to_ascii_uppercase();
        if let Some((_, tz)) = ABBREVIATIONS.iter().find(|(name, _)| *name == upper) {
            return Some(Zone::Region(*tz));
        }
        Zone::parse(text).or_else(|| parse_offset(&upper).map(Zone::Fixed))
    }

    /// Minutes east of UTC at the instant `utc_ms`.
    pub fn offset_at(&self, utc_ms: i64) -> i64 {
        match self {
            Zone::Fixed(m) => *m,
            Zone::Region(tz) => DateTime::from_timestamp_millis(utc_ms)
                .map_or(0, |t| i64::from(tz.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc()) / 60),
        }
    }

    /// Minutes east of UTC of the wall-clock time `local_ms` (milliseconds of the local calendar
    /// since 1970-01-01T00:00): in an overlap the earlier offset, in a gap the offset before it,
    /// as Java's `ZonedDateTime.ofLocal` resolves them.
    pub fn offset_of_local(&self, local_ms: i64) -> i64 {
        let Zone::Region(tz) = self else { return self.offset_at(local_ms) };
        let Some(local) = DateTime::from_timestamp_millis(local_ms).map(|t| t.naive_utc()) else { return 0 };
        match tz.offset_from_local_datetime(&local) {
            LocalResult::Single(o) | LocalResult::Ambiguous(o, _) => i64::from(o.fix().local_minus_utc()) / 60,
            // Gaps are an hour or two; half a day before lies before the transition.
            LocalResult::None => self.offset_at(local_ms - 12 * 60 * MINUTE_MS),
        }
    }

    /// The zone's short name at `utc_ms` (`PDT`, `BST`), as pattern letter `z` prints it.
    pub fn short_name_at(&self, utc_ms: i64) -> String {
        match self {
            Zone::Fixed(0) => "UTC".into(),
            Zone::Fixed(m) => {
                let sign = if *m < 0 { '-' } else { '+' };
                format!("{sign}{:02}:{:02}", m.abs() / 60, m.abs() % 60)
            }
            Zone::Region(tz) => DateTime::from_timestamp_millis(utc_ms)
                .and_then(|t| tz.offset_from_utc_datetime(&t.naive_utc()).abbreviation().map(str::to_string))
                .unwrap_or_else(|| tz.name().to_string()),
        }
    }

    /// The zone's id (`America/Los_Angeles`), as pattern letters `VV` print it.
    pub fn id(&self) -> String {
        match self {
            Zone::Region(tz) => tz.name().to_string(),
            fixed => fixed.short_name_at(0),
        }
    }
}

/// A fixed zone as minutes east of UTC: `UTC`, `GMT`, `Z`, `+02:00`, `-0530`, `UTC+1`.
pub fn parse_offset(tz: &str) -> Option<i64> {
    let tz = tz.trim();
    let rest = match tz {
        "UTC" | "GMT" | "Z" | "Etc/UTC" | "Etc/GMT" => return Some(0),
        _ => tz.strip_prefix("UTC").or_else(|| tz.strip_prefix("GMT")).unwrap_or(tz),
    };
    let (sign, digits) = match rest.as_bytes().first()? {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => return None,
    };
    let digits: String = digits.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.is_empty() || digits.len() > 4 {
        return None;
    }
    let (h, m) = if digits.len() <= 2 {
        (digits.parse::<i64>().ok()?, 0)
    } else {
        let split = digits.len() - 2;
        (digits[..split].parse::<i64>().ok()?, digits[split..].parse::<i64>().ok()?)
    };
    Some(sign * (h * 60 + m))
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2018-05-11T21:58:33Z, in Los Angeles' daylight-saving time.
    const MAY: i64 = 1_526_075_913_000;

    #[test]
    fn regions_follow_daylight_saving() {
        let la = Zone::parse("America/Los_Angeles").unwrap();
        assert_eq!(la.offset_at(MAY), -7 * 60);
        assert_eq!(la.offset_at(0), -8 * 60);
        assert_eq!(la.short_name_at(MAY), "PDT");
        assert_eq!(Zone::parse("Europe/London").unwrap().short_name_at(MAY), "BST");
    }

    #[test]
    fn fixed_offsets_and_unknown_names() {
        assert_eq!(Zone::parse("+02:00"), Some(Zone::Fixed(120)));
        assert_eq!(Zone::parse("UTC"), Some(Zone::UTC));
        assert_eq!(Zone::parse("Mars/Olympus"), None);
        assert_eq!(Zone::parse("PST"), None);
    }

    #[test]
    fn short_names_in_text_stand_for_their_region() {
        let pst = Zone::parse_text("PST").unwrap();
        // 2018-05-11T21:58:33 local, read with the region's daylight-saving offset.
        assert_eq!(pst.offset_of_local(MAY), -7 * 60);
        assert_eq!(pst.offset_of_local(0), -8 * 60);
    }
}
