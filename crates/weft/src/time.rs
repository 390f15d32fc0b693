//! Epoch milliseconds as people read and write them (RFC 3339), without a date-time crate.

/// `2026-12-06T23:04:05Z` for epoch milliseconds (UTC).
pub fn iso(ms: i64) -> String {
    let seconds = ms.div_euclid(1000);
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Epoch milliseconds of an RFC 3339 instant (`2026-12-06T23:04:05Z`, fractions of a second and a
/// `+02:00` offset allowed), or why it is not one.
pub fn parse_iso(text: &str) -> Result<i64, String> {
    let bad = |why: &str| format!("'{text}' is not a time such as 2026-12-06T23:04:05Z: {why}");
    let (date, rest) = text.split_once(['T', 't', ' ']).ok_or_else(|| bad("no 'T' between date and time"))?;
    let number = |part: &str, what: &str| -> Result<i64, String> {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(&format!("the {what} is not a number")));
        }
        part.parse().map_err(|_| bad(&format!("the {what} is too large")))
    };
    let mut parts = date.splitn(3, '-');
    let (year, month, day) = match (parts.next(), parts.next(), parts.next()) {
        (Some(y), Some(m), Some(d)) => (number(y, "year")?, number(m, "month")?, number(d, "day")?),
        _ => return Err(bad("the date is not YYYY-MM-DD")),
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(bad("the month or day is out of range"));
    }
    // The offset: Z, or +hh:mm / -hh:mm after the time.
    let (clock, offset_minutes) = if let Some(clock) = rest.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else if let Some(at) = rest.rfind(['+', '-']) {
        let (clock, offset) = rest.split_at(at);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let (h, m) = offset[1..].split_once(':').ok_or_else(|| bad("the offset is not +hh:mm"))?;
        (clock, sign * (number(h, "offset")? * 60 + number(m, "offset")?))
    } else {
        return Err(bad("no time zone: end with Z (UTC) or an offset such as +02:00"));
    };
    let (clock, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut hms = clock.splitn(3, ':');
    let (h, m, s) = match (hms.next(), hms.next(), hms.next()) {
        (Some(h), Some(m), Some(s)) => (number(h, "hour")?, number(m, "minute")?, number(s, "second")?),
        _ => return Err(bad("the time is not hh:mm:ss")),
    };
    if h > 23 || m > 59 || s > 60 {
        return Err(bad("the time is out of range"));
    }
    let millis = if fraction.is_empty() {
        0
    } else {
        let digits: String = fraction.chars().chain(std::iter::repeat('0')).take(3).collect();
        number(&digits, "fraction of a second")?
    };
    let days = days_from_civil(year, month as u32, day as u32);
    Ok(((days * 86_400 + h * 3600 + m * 60 + s - offset_minutes * 60) * 1000) + millis)
}

/// Howard Hinnant's `days_from_civil`: (year, month, day) to days since 1970-01-01.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::{iso, parse_iso};

    #[test]
    fn known_instants_print_as_utc() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        // `date -u -d @1796598245` → Sun Dec  6 23:04:05 UTC 2026.
        assert_eq!(iso(1_796_598_245_000), "2026-12-06T23:04:05Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso(-1000), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn rfc3339_instants_read_back_as_epoch_milliseconds() {
        assert_eq!(parse_iso("2026-12-06T23:04:05Z"), Ok(1_796_598_245_000));
        assert_eq!(parse_iso("2026-12-06T23:04:05.25Z"), Ok(1_796_598_245_250));
        assert_eq!(parse_iso("2026-12-07T01:04:05+02:00"), Ok(1_796_598_245_000));
        assert_eq!(parse_iso("2000-02-29T00:00:00Z"), Ok(951_782_400_000));
        assert_eq!(parse_iso("1970-01-01T00:00:00Z"), Ok(0));
        assert!(parse_iso("2026-12-06T23:04:05").expect_err("no zone").contains("no time zone"));
        assert!(parse_iso("2026-13-06T23:04:05Z").expect_err("month").contains("out of range"));
        assert!(parse_iso("yesterday").is_err());
    }
}
