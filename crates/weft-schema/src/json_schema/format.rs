//! JSON Schema `format` checks, hand-written so that checking allocates nothing.

/// The formats the validator asserts; others are annotations only (JSON Schema: "format").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    DateTime,
    Date,
    Time,
    Email,
    Uuid,
    Ipv4,
    Ipv6,
    Hostname,
    Uri,
}

impl Format {
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name {
            "date-time" => Format::DateTime,
            "date" => Format::Date,
            "time" => Format::Time,
            "email" | "idn-email" => Format::Email,
            "uuid" => Format::Uuid,
            "ipv4" => Format::Ipv4,
            "ipv6" => Format::Ipv6,
            "hostname" | "idn-hostname" => Format::Hostname,
            "uri" | "iri" => Format::Uri,
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Format::DateTime => "date-time",
            Format::Date => "date",
            Format::Time => "time",
            Format::Email => "email",
            Format::Uuid => "uuid",
            Format::Ipv4 => "ipv4",
            Format::Ipv6 => "ipv6",
            Format::Hostname => "hostname",
            Format::Uri => "uri",
        }
    }

    pub fn check(&self, s: &str) -> bool {
        match self {
            Format::DateTime => is_date_time(s),
            Format::Date => is_date(s.as_bytes()),
            Format::Time => is_time(s.as_bytes()),
            Format::Email => is_email(s),
            Format::Uuid => is_uuid(s),
            Format::Ipv4 => s.parse::<std::net::Ipv4Addr>().is_ok(),
            Format::Ipv6 => s.parse::<std::net::Ipv6Addr>().is_ok(),
            Format::Hostname => is_hostname(s),
            Format::Uri => is_uri(s),
        }
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |n, d| n * 10 + (d - b'0') as u32))
}

/// RFC 3339 `full-date`.
fn is_date(b: &[u8]) -> bool {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Some(year), Some(month), Some(day)) = (digits(&b[0..4]), digits(&b[5..7]), digits(&b[8..10])) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// RFC 3339 `full-time`: `hh:mm:ss[.frac](Z|+hh:mm|-hh:mm)`.
fn is_time(b: &[u8]) -> bool {
    if b.len() < 9 || b[2] != b':' || b[5] != b':' {
        return false;
    }
    let (Some(h), Some(m), Some(s)) = (digits(&b[0..2]), digits(&b[3..5]), digits(&b[6..8])) else { return false };
    if h > 23 || m > 59 || s > 60 {
        return false;
    }
    let mut rest = &b[8..];
    if rest.first() == Some(&b'.') {
        let frac = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if frac == 0 {
            return false;
        }
        rest = &rest[1 + frac..];
    }
    match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', oh1, oh2, b':', om1, om2] => {
            matches!((digits(&[*oh1, *oh2]), digits(&[*om1, *om2])), (Some(oh), Some(om)) if oh <= 23 && om <= 59)
        }
        _ => false,
    }
}

/// RFC 3339 `date-time`.
pub fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() > 11 && matches!(b[10], b'T' | b't' | b' ') && is_date(&b[..10]) && is_time(&b[11..])
}

/// A pragmatic RFC 5321 mailbox: a non-empty local part without spaces, '@', a hostname.
fn is_email(s: &str) -> bool {
    let Some(at) = s.rfind('@') else { return false };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| !c.is_whitespace() && !c.is_control() && c != '@')
        && (is_hostname(domain) || (domain.starts_with('[') && domain.ends_with(']')))
}

/// RFC 4122 textual form: 8-4-4-4-12 hexadecimal digits.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// RFC 1123 hostname.
fn is_hostname(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// An absolute URI: a scheme (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )), ':', no spaces.
fn is_uri(s: &str) -> bool {
    let Some(colon) = s.find(':') else { return false };
    let scheme = &s[..colon];
    let mut chars = scheme.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_accept_and_reject() {
        let cases: &[(Format, &str, bool)] = &[
            (Format::DateTime, "2024-02-29T12:30:00Z", true),
            (Format::DateTime, "2024-02-29T12:30:00.123+02:00", true),
            (Format::DateTime, "2023-02-29T12:30:00Z", false),
            (Format::DateTime, "2024-13-01T00:00:00Z", false),
            (Format::DateTime, "2024-01-01 10:00", false),
            (Format::DateTime, "2024-01-01T25:00:00Z", false),
            (Format::Date, "2024-01-31", true),
            (Format::Date, "2024-04-31", false),
            (Format::Time, "23:59:60Z", true),
            (Format::Email, "ada@example.com", true),
            (Format::Email, "ada.lovelace+x@mail.example.org", true),
            (Format::Email, "ada@", false),
            (Format::Email, "ada example@x.org", false),
            (Format::Email, "no-at-sign", false),
            (Format::Uuid, "123e4567-e89b-12d3-a456-426614174000", true),
            (Format::Uuid, "123e4567e89b12d3a456426614174000", false),
            (Format::Uuid, "123e4567-e89b-12d3-a456-42661417400g", false),
            (Format::Ipv4, "192.168.0.1", true),
            (Format::Ipv4, "256.0.0.1", false),
            (Format::Ipv6, "::1", true),
            (Format::Hostname, "example.com", true),
            (Format::Hostname, "-bad.com", false),
            (Format::Uri, "https://example.com/a?b=c", true),
            (Format::Uri, "not a uri", false),
        ];
        for (format, input, expected) in cases {
            assert_eq!(format.check(input), *expected, "{} {input:?}", format.name());
        }
    }
}
