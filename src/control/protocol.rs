//! The two protocols the doors speak, as bytes: no socket is touched here.
//!
//! Owns the control socket's one request line (`status`, `reset`, `pause NAME`, `pause
//! --all`, `resume NAME`, `resume --all`, `run NAME`, or anything else, named back in an
//! error) and the HTTP/1.x framing of the metrics endpoint: when the bytes
//! received so far make a whole request, what it asks for, and how a response is framed.
//! Kept free of I/O so that any bytes at all can be fed to it in tests. It must not read or
//! write a connection (that is `server.rs`'s) nor decide what an answer says (that is the
//! master's).

/// Requests are one line or a few HTTP headers; anything longer is not for us.
pub(super) const MAX_REQUEST: usize = 8 * 1024;

/// What a client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Status,
    Reset,
    /// `pause NAME`: nothing new of that schedule comes due until it is resumed.
    Pause(Which),
    /// `resume NAME`: the schedule comes due again from its next instant after now.
    Resume(Which),
    /// `run NAME`: one run of the schedule now, outside its grid.
    Run(String),
    Metrics,
    /// Answered with an error, naming what was asked.
    Unknown(String),
}

/// The schedules a `pause` or `resume` is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    One(String),
    /// `--all`.
    All,
}

/// Reads a request from the bytes received so far; `None` until it is complete.
pub fn parse_request(kind: Kind, bytes: &[u8]) -> Option<Request> {
    match kind {
        Kind::Control => {
            let end = bytes.iter().position(|&b| b == b'\n')?;
            Some(control_request(&bytes[..end]))
        }
        Kind::Http => {
            let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
            let head = String::from_utf8_lossy(&bytes[..end]);
            let mut words = head.lines().next().unwrap_or("").split_whitespace();
            // Prometheus adds a query string when a scrape config sets `params`.
            let path = |p: &str| p.split('?').next().unwrap_or("").to_owned();
            Some(match (words.next(), words.next().map(path)) {
                (Some("GET"), Some(p)) if p == "/metrics" => Request::Metrics,
                (method, path) => Request::Unknown(format!(
                    "{} {}",
                    method.unwrap_or(""),
                    path.unwrap_or_default()
                )),
            })
        }
    }
}

/// The request of a client that closed its side after sending it (`printf status` piped
/// into `socat`): a control line needs no newline then. Nothing for HTTP, which has its
/// blank line.
pub fn request_at_end(kind: Kind, bytes: &[u8]) -> Option<Request> {
    match kind {
        Kind::Control if !bytes.is_empty() => Some(control_request(bytes)),
        _ => None,
    }
}

fn control_request(line: &[u8]) -> Request {
    let line = String::from_utf8_lossy(line).trim().to_string();
    let words: Vec<&str> = line.split_whitespace().collect();
    // A schedule's name is one word (the config takes any YAML key, but a name with
    // spaces could not be told from more words here; `find` then says it is unknown).
    let which = |word: &str| match word {
        "--all" => Which::All,
        name => Which::One(name.to_string()),
    };
    match words.as_slice() {
        ["status"] => Request::Status,
        ["reset"] => Request::Reset,
        ["pause", what] => Request::Pause(which(what)),
        ["resume", what] => Request::Resume(which(what)),
        ["run", name] if *name != "--all" => Request::Run(name.to_string()),
        _ => Request::Unknown(line),
    }
}

/// An HTTP response with a body.
pub fn http_response(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Control,
    Http,
}

impl Kind {
    /// The door's name in logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Control => "control",
            Kind::Http => "metrics",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_requests_are_one_line() {
        assert_eq!(parse_request(Kind::Control, b"stat"), None);
        assert_eq!(
            parse_request(Kind::Control, b"status\n"),
            Some(Request::Status)
        );
        assert_eq!(
            parse_request(Kind::Control, b" reset \r\n"),
            Some(Request::Reset)
        );
        assert_eq!(
            parse_request(Kind::Control, b"explode\n"),
            Some(Request::Unknown("explode".into()))
        );
    }

    #[test]
    fn pause_resume_and_run_name_one_schedule_and_pause_and_resume_may_name_all() {
        let control = |line: &str| parse_request(Kind::Control, format!("{line}\n").as_bytes());
        assert_eq!(
            control("pause beat"),
            Some(Request::Pause(Which::One("beat".into())))
        );
        assert_eq!(control(" pause  --all "), Some(Request::Pause(Which::All)));
        assert_eq!(
            control("resume nightly-report"),
            Some(Request::Resume(Which::One("nightly-report".into())))
        );
        assert_eq!(control("resume --all"), Some(Request::Resume(Which::All)));
        assert_eq!(control("run beat"), Some(Request::Run("beat".into())));
        for line in [
            "pause",
            "resume",
            "run",
            "run --all",
            "pause a b",
            "Pause beat",
        ] {
            assert_eq!(
                control(line),
                Some(Request::Unknown(line.into())),
                "{line:?}"
            );
        }
        assert_eq!(
            request_at_end(Kind::Control, b"run beat"),
            Some(Request::Run("beat".into()))
        );
    }

    #[test]
    fn http_requests_need_their_whole_head() {
        assert_eq!(
            parse_request(Kind::Http, b"GET /metrics HTTP/1.1\r\n"),
            None
        );
        assert_eq!(
            parse_request(Kind::Http, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(Request::Metrics)
        );
        assert_eq!(
            parse_request(Kind::Http, b"GET / HTTP/1.1\r\n\r\n"),
            Some(Request::Unknown("GET /".into()))
        );
        assert_eq!(
            parse_request(Kind::Http, b"GET /metrics?job=app HTTP/1.1\r\n\r\n"),
            Some(Request::Metrics),
            "a scrape config's params do not change the path"
        );
    }

    #[test]
    fn a_control_line_may_end_with_the_clients_end_of_stream() {
        assert_eq!(
            request_at_end(Kind::Control, b"status"),
            Some(Request::Status)
        );
        assert_eq!(request_at_end(Kind::Control, b""), None);
        assert_eq!(
            request_at_end(Kind::Http, b"GET /metrics HTTP/1.1\r\n"),
            None
        );
    }

    #[test]
    fn responses_carry_their_length() {
        let r = http_response("200 OK", "text/plain", "abc");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(r.contains("Content-Length: 3\r\n"));
        assert!(r.ends_with("\r\n\r\nabc"));
    }

    /// Property tests: `PROPTEST_CASES=100000 cargo test --release --lib properties`.
    mod properties {
        use super::*;

        proptest::proptest! {
            /// Any bytes are a request, no request yet, or too long: never a panic.
            #[test]
            fn any_bytes_are_read_as_a_request_or_not_yet(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
                let control = parse_request(Kind::Control, &bytes);
                proptest::prop_assert_eq!(control.is_some(), bytes.contains(&b'\n'));
                let http = parse_request(Kind::Http, &bytes);
                proptest::prop_assert_eq!(http.is_some(), bytes.windows(4).any(|w| w == b"\r\n\r\n"));
            }
        }
    }
}
