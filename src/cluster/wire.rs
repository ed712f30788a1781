//! What the master and its lease helper say to each other: one JSON object per line over a
//! socket pair.
//!
//! Owns the requests (the master asks; the helper never acts on its own), the replies (one
//! per request, in order, each under its request's number), what an instance knows of the
//! shared state, and the line framing. The meaning of each is [`super::lease`]'s (master)
//! and [`super::store`]'s (Redis).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::grid::{Grid, Settled};
use super::numbering::{Anchor, Resumed};

/// What an instance has seen of the state in Redis: enough to carry the schedule over a
/// restart of Redis that lost its data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Known {
    /// The highest fencing token seen.
    pub fence: u64,
    pub grid: Option<Grid>,
    /// The last tick a leader recorded as delivered.
    pub last: Option<u64>,
    /// The highest tick number a leader was allowed to deliver.
    pub granted: Option<u64>,
    /// The latest instant (Unix nanoseconds) of a named schedule's occurrence a leader was
    /// allowed to hand out.
    #[serde(default)]
    pub until: Option<u64>,
}

impl Known {
    /// Takes in what Redis says now: counters only grow, the grid is Redis's.
    pub fn learn(&mut self, seen: &Known) {
        self.fence = self.fence.max(seen.fence);
        if seen.grid.is_some() {
            self.grid = seen.grid;
        }
        self.last = self.last.max(seen.last);
        self.granted = self.granted.max(seen.granted);
        self.until = self.until.max(seen.until);
    }

    /// The highest tick number any leader may have delivered.
    pub fn floor(&self) -> Option<u64> {
        self.last.max(self.granted)
    }
}

/// Who holds the lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub token: u64,
    /// `host:pid` of the holder's master; `None` if Redis does not say.
    pub name: Option<String>,
}

/// From the master to the helper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Take the lease if nobody holds it. `known` restores what Redis lost.
    Acquire { known: Known },
    /// Extend the lease by a ttl, if `token` still holds it, and write (fenced) the highest
    /// tick number the leader may deliver until then, the last one it delivered, and the
    /// latest instant of a named schedule's occurrence it may hand out until then.
    Renew {
        token: u64,
        grant: Option<u64>,
        last: Option<u64>,
        #[serde(default)]
        until: Option<u64>,
    },
    /// Write (fenced) the last tick delivered, and the anchors of the named schedules that
    /// handed an occurrence out since the last record (by their place in the config).
    Record {
        token: u64,
        last: Option<u64>,
        #[serde(default)]
        handed: Vec<(u32, Anchor)>,
    },
    /// Give the lease up: the leader has stopped ticking; `upto` is the highest number it
    /// may have delivered, which the next leader goes on from, and `until` the latest
    /// occurrence of a named schedule it may have handed out.
    Release {
        token: u64,
        last: Option<u64>,
        upto: Option<u64>,
        #[serde(default)]
        until: Option<u64>,
        #[serde(default)]
        handed: Vec<(u32, Anchor)>,
    },
}

/// From the helper to the master, one per request, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// This instance holds the lease now, with a new token, on this grid.
    Acquired {
        token: u64,
        grid: Grid,
        settled: Settled,
        /// What Redis held before (or what this instance restored).
        last: Option<u64>,
        granted: Option<u64>,
        /// Redis had no state at all (a first start, or Redis lost its data).
        fresh: bool,
        /// The latest occurrence of a named schedule any leader may have handed out.
        #[serde(default)]
        until: Option<u64>,
        /// Where each named schedule goes on, by its place in the config.
        #[serde(default)]
        named: Vec<(u32, Resumed)>,
    },
    /// Another instance holds the lease.
    Held {
        holder: Holder,
        /// Milliseconds left on it; `None` when it has no expiry.
        pttl_ms: Option<u64>,
        seen: Known,
    },
    /// Renewed, recorded or released.
    Done,
    /// The token no longer holds the lease.
    Lost { holder: Option<Holder> },
    /// Redis could not be reached or refused the command.
    Failed { error: String },
}

/// A request with its number, or a reply with the number of the request it answers. The
/// master numbers its requests 1, 2, 3, ... and the helper answers each one once, in order,
/// under its number. A reply is told by its number, not by its place: most replies are a
/// bare `Done`, and a repeated one would otherwise pass for the answer to the next request,
/// a renewal Redis may not have carried out yet (or ever).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Numbered<T> {
    pub id: u64,
    pub message: T,
}

/// One message as a line.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let mut line = serde_json::to_vec(message).expect("plain data serializes");
    line.push(b'\n');
    line
}

/// Takes bytes as they arrive and gives back whole messages.
#[derive(Debug, Default)]
pub struct Decoder {
    pending: Vec<u8>,
}

/// Longer lines are not this protocol: the peer is broken.
const MAX_LINE: usize = 64 * 1024;

impl Decoder {
    pub fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    /// The next whole message, if one has arrived.
    pub fn message<T: DeserializeOwned>(&mut self) -> Result<Option<T>, BadMessage> {
        let Some(end) = self.pending.iter().position(|&b| b == b'\n') else {
            if self.pending.len() > MAX_LINE {
                return Err(BadMessage::TooLong);
            }
            return Ok(None);
        };
        let line: Vec<u8> = self.pending.drain(..=end).collect();
        serde_json::from_slice(&line[..end])
            .map(Some)
            .map_err(BadMessage::Unreadable)
    }
}

/// What a peer sent that is not this protocol; the message follows "sent".
#[derive(Debug, thiserror::Error)]
pub enum BadMessage {
    #[error("a line longer than {MAX_LINE} bytes")]
    TooLong,
    #[error("an unreadable message ({0})")]
    Unreadable(serde_json::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_survive_the_line_format_split_anywhere() {
        let replies = vec![
            Reply::Held {
                holder: Holder {
                    token: 7,
                    name: Some("web-1:4242".into()),
                },
                pttl_ms: Some(900),
                seen: Known {
                    fence: 7,
                    grid: Some(Grid {
                        start_ns: 5,
                        base: 0,
                        interval_ns: 100,
                    }),
                    last: Some(3),
                    granted: None,
                    until: Some(9),
                },
            },
            Reply::Done,
            Reply::Failed {
                error: "Connection refused\n(os error 111)".into(),
            },
        ];
        let replies: Vec<Numbered<Reply>> = replies
            .into_iter()
            .zip(1..)
            .map(|(message, id)| Numbered { id, message })
            .collect();
        let bytes: Vec<u8> = replies.iter().flat_map(encode).collect();
        let mut decoder = Decoder::default();
        let mut out = vec![];
        for chunk in bytes.chunks(7) {
            decoder.push(chunk);
            while let Some(reply) = decoder.message::<Numbered<Reply>>().unwrap() {
                out.push(reply);
            }
        }
        assert_eq!(out, replies);
    }

    #[test]
    fn garbage_and_endless_lines_are_errors() {
        let mut decoder = Decoder::default();
        decoder.push(b"{nope}\n");
        assert!(decoder.message::<Numbered<Request>>().is_err());
        decoder.push(&vec![b'x'; MAX_LINE + 1]);
        assert!(decoder.message::<Numbered<Request>>().is_err());
    }

    #[test]
    fn counters_learned_only_grow() {
        let mut known = Known {
            fence: 9,
            grid: None,
            last: Some(50),
            granted: Some(60),
            until: Some(70),
        };
        known.learn(&Known {
            fence: 1,
            grid: Some(Grid {
                start_ns: 1,
                base: 0,
                interval_ns: 1,
            }),
            last: Some(2),
            granted: None,
            until: Some(71),
        });
        assert_eq!(known.fence, 9);
        assert_eq!(known.last, Some(50));
        assert_eq!(known.granted, Some(60));
        assert!(known.grid.is_some());
        assert_eq!(known.floor(), Some(60));
        assert_eq!(known.until, Some(71));
    }
}
