//! What a payload validation failure says, and the allocation-free instance path validators carry.

/// A payload that does not conform to its schema: where (a JSON pointer into the payload) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at {}: {message}", if path.is_empty() { "the document root" } else { path.as_str() })]
pub struct ValidationError {
    /// JSON pointer (RFC 6901) to the offending value in the payload; empty for the payload itself.
    pub path: String,
    pub message: String,
}

/// Parses a JSON payload, or says where it is not JSON.
pub(crate) fn parse_payload(bytes: &[u8]) -> Result<serde_json::Value, ValidationError> {
    serde_json::from_slice(bytes).map_err(|e| ValidationError {
        path: String::new(),
        message: format!("invalid JSON at line {} column {}: {}", e.line(), e.column(), strip_position(&e)),
    })
}

fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.find(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// The position in the payload being validated, as a linked list on the stack: building it costs
/// nothing, and it is rendered into a string only when validation fails.
#[derive(Clone, Copy)]
pub(crate) enum InstancePath<'a> {
    Root,
    Key(&'a InstancePath<'a>, &'a str),
    Index(&'a InstancePath<'a>, usize),
}

impl<'a> InstancePath<'a> {
    pub(crate) fn key(&'a self, key: &'a str) -> InstancePath<'a> {
        InstancePath::Key(self, key)
    }

    pub(crate) fn index(&'a self, index: usize) -> InstancePath<'a> {
        InstancePath::Index(self, index)
    }

    pub(crate) fn render(&self) -> String {
        let mut segments = Vec::new();
        let mut cursor = self;
        loop {
            match cursor {
                InstancePath::Root => break,
                InstancePath::Key(parent, key) => {
                    segments.push(key.replace('~', "~0").replace('/', "~1"));
                    cursor = parent;
                }
                InstancePath::Index(parent, index) => {
                    segments.push(index.to_string());
                    cursor = parent;
                }
            }
        }
        let mut out = String::new();
        for segment in segments.iter().rev() {
            out.push('/');
            out.push_str(segment);
        }
        out
    }

    pub(crate) fn error(&self, message: impl Into<String>) -> ValidationError {
        ValidationError { path: self.render(), message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_as_json_pointers() {
        let root = InstancePath::Root;
        let a = root.key("a/b");
        let b = a.index(3);
        let c = b.key("x~y");
        assert_eq!(c.render(), "/a~1b/3/x~0y");
        assert_eq!(c.error("bad").to_string(), "at /a~1b/3/x~0y: bad");
        assert_eq!(root.error("bad").to_string(), "at the document root: bad");
    }
}
