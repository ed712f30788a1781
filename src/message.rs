//! What goridge frames mean between a ticker master and its workers.
//!
//! Owns the mapping between frames and the messages of RoadRunner's worker protocol (jobs,
//! answers, soft errors, stop requests, control frames), checked the way RoadRunner checks
//! them. It does not read or write anything: [`crate::transport`] moves the frames.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::frame::{Frame, flags};

/// The header a worker sends with an empty body to ask to be replaced (`$worker->stop()`).
const STOP_HEADER: &[u8] = br#"{"stop":true}"#;

/// A message from the master to a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToWorker {
    /// A payload to handle (a tick). The PHP library needs at least one option on every
    /// non-control frame: the header length.
    Job { header: Vec<u8>, body: Vec<u8> },
    /// Leave the loop: the PHP library's `waitPayload()` then returns `null`.
    Stop,
    /// The handshake a command-started worker receives first: `{"pid":N}`, N the master's
    /// pid, as RoadRunner sends it.
    Pid(u32),
    /// A ticker master's handshake: RoadRunner's with `"lateness":true` added, which says
    /// that this master reads the lateness this crate's workers add to their answers (a
    /// second option). RoadRunner's PHP library reads only `pid` and ignores the rest.
    TickerPid(u32),
}

/// A message from a worker to the master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromWorker {
    /// `respond()`: the payload was handled. `late` is how late `waitPayload()` returned
    /// the tick, which this crate's workers report in a second option (microseconds) and
    /// RoadRunner's PHP library does not; a ticker master reads both forms. Only a worker
    /// that knows its master is a ticker sends it: RoadRunner checks for exactly one option.
    Answer {
        header: Vec<u8>,
        body: Vec<u8>,
        late: Option<Duration>,
    },
    /// `error()`: the payload failed; the worker stays usable.
    Error(String),
    /// `stop()`: the worker wants to be replaced.
    StopRequest,
    /// The handshake answer of a command-started worker.
    Pid(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// The JSON object a control frame carries: `{"stop":true}` or `{"pid":N}`.
#[derive(Deserialize)]
struct Control {
    #[serde(default)]
    stop: bool,
    pid: Option<i64>,
    #[serde(default)]
    lateness: bool,
}

fn parse_control(payload: &[u8]) -> Result<Control, ProtocolError> {
    serde_json::from_slice(payload).map_err(|e| {
        ProtocolError(format!(
            "control frame is not a JSON object with `stop` or `pid`: {e}"
        ))
    })
}

/// Splits `header ++ body` at the length carried by the frame's first option.
fn split_header(frame: Frame, what: &str) -> Result<(Vec<u8>, Vec<u8>), ProtocolError> {
    let [header_len] = frame.options[..] else {
        return Err(ProtocolError(format!(
            "{what} carries {} options, expected exactly one (the header length)",
            frame.options.len()
        )));
    };
    split_at(frame, header_len as usize, what)
}

fn split_at(
    frame: Frame,
    header_len: usize,
    what: &str,
) -> Result<(Vec<u8>, Vec<u8>), ProtocolError> {
    if header_len > frame.payload.len() {
        return Err(ProtocolError(format!(
            "{what} header length {header_len} exceeds its payload of {} bytes",
            frame.payload.len()
        )));
    }
    // The body, often the big part, stays in the frame's buffer: no allocation for it.
    let mut body = frame.payload;
    let header = body.drain(..header_len).collect();
    Ok((header, body))
}

fn joined(header: &[u8], body: Vec<u8>) -> (Vec<u32>, Vec<u8>) {
    let len = u32::try_from(header.len()).expect("header fits in u32");
    if header.is_empty() {
        return (vec![len], body);
    }
    let mut payload = Vec::with_capacity(header.len() + body.len());
    payload.extend_from_slice(header);
    payload.extend_from_slice(&body);
    (vec![len], payload)
}

impl ToWorker {
    pub fn into_frame(self) -> Frame {
        match self {
            ToWorker::Job { header, body } => {
                let (options, payload) = joined(&header, body);
                Frame::new(0, options, payload)
            }
            ToWorker::Stop => Frame::new(flags::CONTROL, vec![], STOP_HEADER.to_vec()),
            ToWorker::Pid(pid) => Frame::new(
                flags::CONTROL | flags::CODEC_JSON,
                vec![],
                format!(r#"{{"pid":{pid}}}"#).into_bytes(),
            ),
            ToWorker::TickerPid(pid) => Frame::new(
                flags::CONTROL | flags::CODEC_JSON,
                vec![],
                format!(r#"{{"pid":{pid},"lateness":true}}"#).into_bytes(),
            ),
        }
    }

    pub fn from_frame(frame: Frame) -> Result<ToWorker, ProtocolError> {
        if frame.has(flags::CONTROL) {
            let control = parse_control(&frame.payload)?;
            if control.stop {
                return Ok(ToWorker::Stop);
            }
            return match control.pid {
                Some(pid) if pid > 0 && pid <= i64::from(u32::MAX) && control.lateness => {
                    Ok(ToWorker::TickerPid(pid as u32))
                }
                Some(pid) if pid > 0 && pid <= i64::from(u32::MAX) => Ok(ToWorker::Pid(pid as u32)),
                _ => Err(ProtocolError(
                    "control frame without `stop` or a positive `pid`".into(),
                )),
            };
        }
        let (header, body) = split_header(frame, "job")?;
        Ok(ToWorker::Job { header, body })
    }
}

impl FromWorker {
    pub fn into_frame(self) -> Frame {
        match self {
            FromWorker::Answer { header, body, late } => {
                let (mut options, payload) = joined(&header, body);
                if let Some(late) = late {
                    options.push(u32::try_from(late.as_micros()).unwrap_or(u32::MAX));
                }
                Frame::new(0, options, payload)
            }
            FromWorker::Error(text) => Frame::new(flags::ERROR, vec![], text.into_bytes()),
            FromWorker::StopRequest => {
                let (options, payload) = joined(STOP_HEADER, vec![]);
                Frame::new(0, options, payload)
            }
            FromWorker::Pid(pid) => Frame::new(
                flags::CONTROL,
                vec![],
                format!(r#"{{"pid":{pid}}}"#).into_bytes(),
            ),
        }
    }

    /// Reads a worker's frame the way RoadRunner's pool does: ERROR before options (an error
    /// frame has none), CONTROL for the handshake, and otherwise exactly one option.
    pub fn from_frame(frame: Frame) -> Result<FromWorker, ProtocolError> {
        if frame.has(flags::ERROR) {
            return Ok(FromWorker::Error(
                String::from_utf8_lossy(&frame.payload).into_owned(),
            ));
        }
        if frame.has(flags::CONTROL) {
            let control = parse_control(&frame.payload)?;
            return match control.pid {
                Some(pid) if pid > 0 && pid <= i64::from(u32::MAX) => {
                    Ok(FromWorker::Pid(pid as u32))
                }
                _ => Err(ProtocolError(
                    "control frame from a worker without a positive `pid`".into(),
                )),
            };
        }
        let (header_len, late) = match frame.options[..] {
            [header_len] => (header_len, None),
            [header_len, late_us] => (header_len, Some(Duration::from_micros(late_us.into()))),
            _ => {
                return Err(ProtocolError(format!(
                    "answer carries {} options, expected the header length (and this \
                     crate's workers add their lateness)",
                    frame.options.len()
                )));
            }
        };
        let (header, body) = split_at(frame, header_len as usize, "answer")?;
        if body.is_empty() && is_stop_header(&header) {
            return Ok(FromWorker::StopRequest);
        }
        Ok(FromWorker::Answer { header, body, late })
    }
}

/// `{"stop":true}`, tolerant of the spacing another encoder might use.
fn is_stop_header(header: &[u8]) -> bool {
    header == STOP_HEADER
        || serde_json::from_slice::<serde_json::Value>(header)
            .is_ok_and(|v| v.get("stop") == Some(&serde_json::Value::Bool(true)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::MAX_PAYLOAD;

    fn through_the_wire(frame: Frame) -> Frame {
        let bytes = frame.encode();
        Frame::decode(&bytes, MAX_PAYLOAD).unwrap().unwrap().0
    }

    #[test]
    fn master_messages_round_trip() {
        for message in [
            ToWorker::Job {
                header: br#"{"lastTick":null}"#.to_vec(),
                body: br#"{"tick":0}"#.to_vec(),
            },
            ToWorker::Job {
                header: vec![],
                body: vec![],
            },
            ToWorker::Stop,
            ToWorker::Pid(42),
            ToWorker::TickerPid(43),
        ] {
            let frame = through_the_wire(message.clone().into_frame());
            assert_eq!(ToWorker::from_frame(frame), Ok(message));
        }
    }

    #[test]
    fn worker_messages_round_trip() {
        for message in [
            FromWorker::Answer {
                header: b"h".to_vec(),
                body: b"OK".to_vec(),
                late: None,
            },
            FromWorker::Answer {
                header: vec![],
                body: vec![],
                late: Some(Duration::from_micros(37)),
            },
            FromWorker::Error("boom".into()),
            FromWorker::StopRequest,
            FromWorker::Pid(7),
        ] {
            let frame = through_the_wire(message.clone().into_frame());
            assert_eq!(FromWorker::from_frame(frame), Ok(message));
        }
    }

    #[test]
    fn frames_match_roadrunner_bytes() {
        let job = ToWorker::Job {
            header: b"{}".to_vec(),
            body: b"B".to_vec(),
        }
        .into_frame();
        assert_eq!((job.flags, job.options.clone()), (0, vec![2]));
        assert_eq!(job.payload, b"{}B");

        let stop = ToWorker::Stop.into_frame();
        assert_eq!(stop.flags, flags::CONTROL);
        assert_eq!(stop.payload, br#"{"stop":true}"#);

        let pid = ToWorker::Pid(9).into_frame();
        assert_eq!(pid.flags, 0x09);
        assert_eq!(pid.payload, br#"{"pid":9}"#, "RoadRunner's bytes");
        let ticker = ToWorker::TickerPid(9).into_frame();
        assert_eq!(ticker.flags, 0x09);
        assert_eq!(ticker.payload, br#"{"pid":9,"lateness":true}"#);

        let stop_request = FromWorker::StopRequest.into_frame();
        assert_eq!(stop_request.options, vec![13]);
        assert!(stop_request.payload.ends_with(br#"{"stop":true}"#));
    }

    #[test]
    fn an_answer_has_the_header_length_and_maybe_the_lateness() {
        for options in [vec![], vec![0, 0, 0]] {
            let frame = Frame::new(0, options, b"OK".to_vec());
            assert!(FromWorker::from_frame(frame).is_err());
        }
        let frame = Frame::new(0, vec![0, 12], b"OK".to_vec());
        assert!(matches!(
            FromWorker::from_frame(frame),
            Ok(FromWorker::Answer { late: Some(l), .. }) if l == Duration::from_micros(12)
        ));
        // Jobs keep RoadRunner's one option.
        let job = Frame::new(0, vec![0, 12], b"{}".to_vec());
        assert!(ToWorker::from_frame(job).is_err());
    }

    #[test]
    fn a_header_longer_than_the_payload_is_refused() {
        let frame = Frame::new(0, vec![10], b"short".to_vec());
        let err = FromWorker::from_frame(frame).unwrap_err();
        assert!(err.0.contains("exceeds"), "{err}");
    }

    #[test]
    fn an_error_frame_is_read_before_options() {
        let frame = Frame::new(flags::ERROR, vec![], b"handler failed".to_vec());
        assert_eq!(
            FromWorker::from_frame(frame),
            Ok(FromWorker::Error("handler failed".into()))
        );
    }

    #[test]
    fn control_frames_must_be_json_objects() {
        let frame = Frame::new(flags::CONTROL, vec![], b"stop".to_vec());
        assert!(ToWorker::from_frame(frame.clone()).is_err());
        assert!(FromWorker::from_frame(frame).is_err());
        let zero = Frame::new(flags::CONTROL, vec![], br#"{"pid":0}"#.to_vec());
        assert!(FromWorker::from_frame(zero).is_err());
    }

    #[test]
    fn a_spaced_stop_header_is_a_stop_request() {
        let frame = Frame::new(0, vec![14], br#"{"stop": true}"#.to_vec());
        assert_eq!(FromWorker::from_frame(frame), Ok(FromWorker::StopRequest));
        let with_body = Frame::new(0, vec![13], br#"{"stop":true}body"#.to_vec());
        assert!(matches!(
            FromWorker::from_frame(with_body),
            Ok(FromWorker::Answer { .. })
        ));
    }
}
