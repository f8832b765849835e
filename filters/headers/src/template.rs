//! Header values with Envoy's substitution commands (`%REQ(x-id)%`, ...),
//! parsed once at load into literal and variable pieces.

use portico::config::{AnyHeaderName, ConfigError};
use std::time::SystemTime;

/// Which side a value is rendered on: `%RESP(...)%` only exists on the response side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Request,
    Response,
}

/// `%REQ(a?b):N%`: a header, an alternative if the first is absent, a length cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderRef {
    pub name: String,
    pub fallback: Option<String>,
    pub max_len: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Req(HeaderRef),
    Resp(HeaderRef),
    RemoteAddress,
    RemoteAddressWithoutPort,
    Protocol,
    StartTime,
    /// `%HOSTNAME%` until [`Template::resolve_hostname`] writes it in.
    Hostname,
}

/// What a template reads at request time.
pub trait Source {
    fn request_header(&self, name: &str) -> Option<String>;
    fn response_header(&self, name: &str) -> Option<String>;
    fn remote_address(&self) -> Option<String>;
    fn protocol(&self) -> Option<String>;
    fn start_time(&self) -> SystemTime;
}

/// A compiled header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

const COMMANDS: &str = "REQ(name), RESP(name), DOWNSTREAM_REMOTE_ADDRESS, \
    DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT, PROTOCOL, START_TIME, HOSTNAME";

impl Template {
    /// Parses `text`. `hostname` is what `%HOSTNAME%` becomes (resolved once,
    /// at load); `None` makes `%HOSTNAME%` an error.
    pub fn parse(text: &str, side: Side, hostname: Option<&str>) -> Result<Template, ConfigError> {
        let mut template = Template::parse_unresolved(text, side)?;
        template.resolve_hostname(hostname)?;
        Ok(template)
    }

    /// Parses `text`, leaving `%HOSTNAME%` for [`Template::resolve_hostname`]:
    /// the configuration is read before the VM's environment is.
    pub fn parse_unresolved(text: &str, side: Side) -> Result<Template, ConfigError> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(start) = rest.find('%') {
            literal.push_str(rest.get(..start).unwrap_or_default());
            let after = rest.get(start + 1..).unwrap_or_default();
            if let Some(tail) = after.strip_prefix('%') {
                literal.push('%');
                rest = tail;
                continue;
            }
            let (command, tail) = split_command(after).ok_or_else(|| {
                ConfigError::here(format!(
                    "`%` at byte {start} does not start a command (write `%%` for a literal %); \
                     supported: {COMMANDS}"
                ))
            })?;
            let piece = parse_command(command, side).map_err(ConfigError::here)?;
            push(&mut pieces, &mut literal, piece);
            rest = tail;
        }
        literal.push_str(rest);
        push(&mut pieces, &mut literal, Piece::Text(String::new()));
        Ok(Template { pieces })
    }

    /// Writes the host name in for `%HOSTNAME%`; with `None`, a template
    /// that has `%HOSTNAME%` is refused.
    pub fn resolve_hostname(&mut self, hostname: Option<&str>) -> Result<(), ConfigError> {
        if !self.pieces.contains(&Piece::Hostname) {
            return Ok(());
        }
        let hostname = hostname.ok_or_else(|| {
            ConfigError::here(
                "%HOSTNAME% needs the host name, which a wasm VM cannot look up: \
                 pass it with `vm_config.environment_variables.host_env_keys: [HOSTNAME]` \
                 (or `key_values: {HOSTNAME: ...}`)",
            )
        })?;
        let (mut pieces, mut literal) = (Vec::new(), String::new());
        for piece in std::mem::take(&mut self.pieces) {
            let piece = match piece {
                Piece::Hostname => Piece::Text(hostname.to_string()),
                other => other,
            };
            push(&mut pieces, &mut literal, piece);
        }
        push(&mut pieces, &mut literal, Piece::Text(String::new()));
        self.pieces = pieces;
        Ok(())
    }

    /// The same for every request: literal text and `%HOSTNAME%` only.
    pub fn is_constant(&self) -> bool {
        self.pieces
            .iter()
            .all(|p| matches!(p, Piece::Text(_) | Piece::Hostname))
    }

    /// The value when it has no command to substitute.
    pub fn as_literal(&self) -> Option<&str> {
        match self.pieces.as_slice() {
            [] => Some(""),
            [Piece::Text(t)] => Some(t),
            _ => None,
        }
    }

    /// Request headers that the template reads (for capture on the request side).
    pub fn request_headers(&self) -> impl Iterator<Item = &str> {
        self.pieces
            .iter()
            .flat_map(|p| match p {
                Piece::Req(r) => [Some(r.name.as_str()), r.fallback.as_deref()],
                _ => [None, None],
            })
            .flatten()
    }

    /// Renders into `out` (cleared first).
    pub fn render(&self, source: &dyn Source, out: &mut String) {
        out.clear();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Req(r) => push_header(out, r, |n| source.request_header(n)),
                Piece::Resp(r) => push_header(out, r, |n| source.response_header(n)),
                Piece::RemoteAddress => {
                    if let Some(a) = source.remote_address() {
                        out.push_str(&a);
                    }
                }
                Piece::RemoteAddressWithoutPort => {
                    if let Some(a) = source.remote_address() {
                        out.push_str(portico::net::strip_port(&a));
                    }
                }
                Piece::Protocol => {
                    if let Some(p) = source.protocol() {
                        out.push_str(&p);
                    }
                }
                Piece::StartTime => {
                    crate::start_time::push_rfc3339_millis(out, source.start_time())
                }
                // Resolved at load: a template still holding it is not used.
                Piece::Hostname => {}
            }
        }
    }
}

/// Adds `piece` to `pieces`, gathering text into `literal` so that adjacent
/// text is one piece; an empty `Text` flushes what was gathered.
fn push(pieces: &mut Vec<Piece>, literal: &mut String, piece: Piece) {
    match piece {
        Piece::Text(t) if !t.is_empty() => literal.push_str(&t),
        other => {
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(literal)));
            }
            if !matches!(other, Piece::Text(_)) {
                pieces.push(other);
            }
        }
    }
}

fn push_header(out: &mut String, r: &HeaderRef, get: impl Fn(&str) -> Option<String>) {
    let value = get(&r.name).or_else(|| r.fallback.as_deref().and_then(&get));
    let Some(value) = value else { return };
    let mut end = r.max_len.unwrap_or(value.len()).min(value.len());
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    out.push_str(value.get(..end).unwrap_or_default());
}

/// `NAME(args):N%rest` → (`NAME(args):N`, `rest`). Command names are upper
/// case with digits and `_`; arguments may hold anything but `)`.
fn split_command(s: &str) -> Option<(&str, &str)> {
    let name_len = s
        .bytes()
        .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
        .count();
    if name_len == 0 {
        return None;
    }
    let mut i = name_len;
    let bytes = s.as_bytes();
    if bytes.get(i) == Some(&b'(') {
        i += s.get(i..)?.find(')')? + 1;
    }
    if bytes.get(i) == Some(&b':') {
        i += 1;
        let digits = s.get(i..)?.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        i += digits;
    }
    if bytes.get(i) != Some(&b'%') {
        return None;
    }
    Some((s.get(..i)?, s.get(i + 1..)?))
}

fn parse_command(command: &str, side: Side) -> Result<Piece, String> {
    let (head, max_len) = match command.rsplit_once(':') {
        Some((head, n)) if !n.contains(')') => {
            let n: usize = n
                .parse()
                .map_err(|_| format!("%{command}%: bad length `{n}`"))?;
            (head, Some(n))
        }
        _ => (command, None),
    };
    let (name, args) = match head.split_once('(') {
        Some((name, args)) => (name, Some(args.strip_suffix(')').unwrap_or(args))),
        None => (head, None),
    };
    let no_args = |piece: Piece| {
        if args.is_some() || max_len.is_some() {
            Err(format!("%{command}%: {name} takes no arguments or length"))
        } else {
            Ok(piece)
        }
    };
    match name {
        "REQ" => Ok(Piece::Req(header_ref(command, args, max_len)?)),
        "RESP" if side == Side::Response => Ok(Piece::Resp(header_ref(command, args, max_len)?)),
        "RESP" => Err(format!(
            "%{command}%: response headers do not exist yet on the request side"
        )),
        "DOWNSTREAM_REMOTE_ADDRESS" => no_args(Piece::RemoteAddress),
        "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT" => no_args(Piece::RemoteAddressWithoutPort),
        "PROTOCOL" => no_args(Piece::Protocol),
        "START_TIME" => {
            if args.is_some() {
                return Err(format!(
                    "%{command}%: custom time formats are not supported; \
                     %START_TIME% gives Envoy's default (2006-01-02T15:04:05.000Z)"
                ));
            }
            no_args(Piece::StartTime)
        }
        "HOSTNAME" => no_args(Piece::Hostname),
        other => Err(format!("unknown command %{other}%; supported: {COMMANDS}")),
    }
}

fn header_ref(
    command: &str,
    args: Option<&str>,
    max_len: Option<usize>,
) -> Result<HeaderRef, String> {
    let args =
        args.ok_or_else(|| format!("%{command}%: needs a header name, as in %REQ(x-id)%"))?;
    let (name, fallback) = match args.split_once('?') {
        Some((a, b)) => (a, Some(b)),
        None => (args, None),
    };
    let check = |n: &str| -> Result<String, String> {
        AnyHeaderName::new(n)
            .map(AnyHeaderName::into_string)
            .map_err(|_| format!("%{command}%: `{n}` is not a header name"))
    };
    Ok(HeaderRef {
        name: check(name)?,
        fallback: fallback.map(check).transpose()?,
        max_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use fixture::Fixed;

    fn render(text: &str, side: Side) -> String {
        let t = Template::parse(text, side, Some("box")).unwrap();
        let mut out = String::new();
        t.render(&Fixed::default(), &mut out);
        out
    }

    #[test]
    fn substitutes_every_command() {
        assert_eq!(render("id=%REQ(X-Id)%", Side::Request), "id=abcdef");
        assert_eq!(render("%REQ(x-none)%", Side::Request), "");
        assert_eq!(render("%REQ(x-none?x-id)%", Side::Request), "abcdef");
        assert_eq!(render("%REQ(x-id):3%", Side::Request), "abc");
        assert_eq!(render("%REQ(x-utf):2%", Side::Request), "h");
        assert_eq!(render("%RESP(content-type)%", Side::Response), "text/plain");
        assert_eq!(
            render(
                "%DOWNSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
                Side::Request
            ),
            "10.1.2.3:4567 10.1.2.3"
        );
        assert_eq!(render("%PROTOCOL%", Side::Request), "HTTP/1.1");
        assert_eq!(
            render("%START_TIME%", Side::Request),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(render("%HOSTNAME%", Side::Request), "box");
        assert_eq!(
            render("100%% of %REQ(:path)%", Side::Request),
            "100% of /p?q"
        );
    }

    #[test]
    fn literals_are_recognised_as_such() {
        let t = Template::parse("plain 50%% off", Side::Request, None).unwrap();
        assert_eq!(t.as_literal(), Some("plain 50% off"));
        let t = Template::parse("%REQ(a?b)%", Side::Response, None).unwrap();
        assert_eq!(t.as_literal(), None);
        assert_eq!(t.request_headers().collect::<Vec<_>>(), vec!["a", "b"]);
    }

    #[test]
    fn hostname_is_resolved_after_parsing() {
        let mut t = Template::parse_unresolved("%HOSTNAME%:80", Side::Request).unwrap();
        assert!(t.is_constant() && t.as_literal().is_none());
        assert!(t.clone().resolve_hostname(None).is_err());
        t.resolve_hostname(Some("box")).unwrap();
        assert_eq!(t.as_literal(), Some("box:80"));
        let t = Template::parse_unresolved("%REQ(x)%", Side::Request).unwrap();
        assert!(!t.is_constant());
    }

    #[test]
    fn refuses_what_it_cannot_substitute() {
        let err = |text: &str, side| Template::parse(text, side, None).unwrap_err().message;
        assert!(err("%UPSTREAM_HOST%", Side::Request).contains("unknown command %UPSTREAM_HOST%"));
        assert!(err("50%", Side::Request).contains("write `%%`"));
        assert!(err("%REQ%", Side::Request).contains("needs a header name"));
        assert!(err("%REQ(bad name)%", Side::Request).contains("not a header name"));
        assert!(err("%RESP(x)%", Side::Request).contains("request side"));
        assert!(err("%HOSTNAME%", Side::Request).contains("host_env_keys"));
        assert!(err("%START_TIME(%s)%", Side::Request).contains("custom time formats"));
        assert!(err("%PROTOCOL:3%", Side::Request).contains("takes no arguments"));
    }
}

#[cfg(test)]
mod robustness {
    use super::fixture::Fixed;
    use super::*;

    /// Random text made of the characters that matter to the parser never
    /// panics it, and whatever parses renders.
    #[test]
    fn arbitrary_templates_parse_or_fail_cleanly() {
        const CHARS: &[u8] = b"%%%REQRSP()?:0123_ABx-/ \xc3\xa9";
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut parsed = 0;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 24) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|i| CHARS[((state >> (i % 60)) as usize + i) % CHARS.len()])
                .collect();
            let text = String::from_utf8_lossy(&bytes);
            for side in [Side::Request, Side::Response] {
                if let Ok(t) = Template::parse(&text, side, Some("h")) {
                    parsed += 1;
                    let mut out = String::new();
                    t.render(
                        &Fixed {
                            any_request_header: Some("v\u{e9}"),
                        },
                        &mut out,
                    );
                }
            }
        }
        assert!(
            parsed > 100,
            "the generator should produce some valid templates ({parsed})"
        );
    }
}

/// A `Source` with fixed answers, for the tests of this crate.
#[cfg(test)]
pub(crate) mod fixture {
    use super::Source;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    #[derive(Default)]
    pub(crate) struct Fixed {
        /// What request headers the table below does not know return.
        pub any_request_header: Option<&'static str>,
    }

    impl Source for Fixed {
        fn request_header(&self, name: &str) -> Option<String> {
            let known = match name {
                "x-id" => Some("abcdef"),
                ":path" => Some("/p?q"),
                "x-utf" => Some("h\u{e9}llo"),
                "x-in" => Some("o/ne"),
                _ => self.any_request_header,
            };
            known.map(str::to_string)
        }
        fn response_header(&self, name: &str) -> Option<String> {
            (name == "content-type").then(|| "text/plain".into())
        }
        fn remote_address(&self) -> Option<String> {
            Some("10.1.2.3:4567".into())
        }
        fn protocol(&self) -> Option<String> {
            Some("HTTP/1.1".into())
        }
        fn start_time(&self) -> SystemTime {
            UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)
        }
    }
}
