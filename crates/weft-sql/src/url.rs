//! ksqlDB's URL functions (`URL_EXTRACT_*`, `URL_ENCODE_PARAM`, `URL_DECODE_PARAM`).
//!
//! ksqlDB parses with `java.net.URI` (RFC 2396): `scheme:[//[user@]host[:port]][path][?query][#fragment]`;
//! a part the URL lacks is null (a missing path is the empty string, as `URI.getPath` gives it),
//! and so is every part of a string that is not a URL. Encoding is `application/x-www-form-urlencoded`
//! (`URLEncoder`/`URLDecoder`, UTF-8).

/// The parts of a URL, each as written (not decoded).
#[derive(Debug, Default, PartialEq)]
pub struct Url<'a> {
    pub scheme: Option<&'a str>,
    pub host: Option<&'a str>,
    pub port: Option<i32>,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub fragment: Option<&'a str>,
}

/// Splits `s` into its parts; `None` when it is not a URI (a space, a bad port).
pub fn parse(s: &str) -> Option<Url<'_>> {
    if s.is_empty() || s.contains([' ', '"', '<', '>', '\\', '^', '`', '{', '|', '}']) {
        return None;
    }
    let mut url = Url::default();
    let (rest, fragment) = match s.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (s, None),
    };
    url.fragment = fragment;
    let scheme_end = rest.find(':').filter(|&i| {
        let scheme = &rest[..i];
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    let rest = match scheme_end {
        Some(i) => {
            url.scheme = Some(&rest[..i]);
            &rest[i + 1..]
        }
        None => rest,
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    url.query = query;
    url.path = rest;
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find('/').unwrap_or(after.len());
        let authority = &after[..end];
        url.path = &after[end..];
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = match host_port.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || host_port.starts_with('[') => (h, Some(p)),
            _ => (host_port, None),
        };
        if !host.is_empty() {
            url.host = Some(host);
        }
        url.port = match port {
            Some("") | None => None,
            Some(p) => Some(p.parse::<i32>().ok()?),
        };
    }
    Some(url)
}

/// The raw value of query parameter `name`: the text after `name=` (empty for a bare `name`).
pub fn parameter<'a>(url: &Url<'a>, name: &str) -> Option<&'a str> {
    url.query?.split('&').find_map(|pair| match pair.split_once('=') {
        Some((k, v)) if k == name => Some(v),
        None if pair == name => Some(""),
        _ => None,
    })
}

/// `URLEncoder.encode(s, UTF-8)`: letters, digits and `.-*_` stay, a space becomes `+`, every
/// other byte `%XX`.
pub fn encode_param(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `URLDecoder.decode(s, UTF-8)`: `+` is a space, `%XX` a byte; `None` for a malformed escape.
pub fn decode_param(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_as_java_uri_gives_them() {
        let u = parse("http://test@confluent.io:8080/nested/path?query&jobs#frag").unwrap();
        assert_eq!(u.scheme, Some("http"));
        assert_eq!(u.host, Some("confluent.io"));
        assert_eq!(u.port, Some(8080));
        assert_eq!(u.path, "/nested/path");
        assert_eq!(u.query, Some("query&jobs"));
        assert_eq!(u.fragment, Some("frag"));
        let u = parse("http://www.test.com?query#fragment").unwrap();
        assert_eq!((u.path, u.port), ("", None));
        let u = parse("www.confluent.io").unwrap();
        assert_eq!((u.scheme, u.host), (None, None));
        assert!(parse("http://a b").is_none());
    }

    #[test]
    fn parameters_and_form_encoding() {
        let u = parse("http://www.test.com/?one=a&two=url%20encoded&three").unwrap();
        assert_eq!(parameter(&u, "one"), Some("a"));
        assert_eq!(parameter(&u, "two"), Some("url%20encoded"));
        assert_eq!(parameter(&u, "three"), Some(""));
        assert_eq!(parameter(&u, "four"), None);
        assert_eq!(encode_param("?foo $bar"), "%3Ffoo+%24bar");
        assert_eq!(decode_param("%3Ffoo+%24bar").as_deref(), Some("?foo $bar"));
        assert_eq!(decode_param("%zz"), None);
    }
}
