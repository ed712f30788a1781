//! What a command-started worker writes to stderr: one log line of the master per line,
//! tagged with the worker's pid.
//!
//! Owns the master's read end of each such worker's stderr pipe (non-blocking; `processes.rs`
//! registers it with the poller and drops it) and the cutting of its bytes into lines
//! ([`Lines`], pure). A line longer than [`MAX_LINE`] is logged in pieces, each marked as
//! cut, so a worker that writes megabytes without a newline costs the master a bounded
//! buffer; a last line without its newline is logged when the pipe closes. One ready read
//! takes at most [`READ_PER_WAKE`] bytes, so a chatty worker cannot hold up the loop.
//!
//! The lines are logged at info level, as RoadRunner logs its workers' stderr: `logs.level:
//! warn` hides them. Forked workers share the master's stderr and are not in here.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use crate::pool::Pid;

/// The longest line logged whole; longer ones are logged in pieces of this size.
pub(super) const MAX_LINE: usize = 16 * 1024;

/// The most bytes one ready read takes before the loop moves on (the rest stays in the
/// pipe, which stays readable).
const READ_PER_WAKE: usize = 64 * 1024;

/// Bytes cut into lines: `\n` ends a line (a `\r` before it is dropped), and a line that
/// reaches [`MAX_LINE`] bytes without one is given out as a piece.
#[derive(Debug, Default)]
pub(super) struct Lines {
    pending: Vec<u8>,
}

/// One line for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Line {
    pub text: String,
    /// The line went on: this is a piece of [`MAX_LINE`] bytes, the rest follows.
    pub cut: bool,
}

impl Lines {
    /// Takes `bytes` and returns the lines they complete.
    pub fn push(&mut self, mut bytes: &[u8]) -> Vec<Line> {
        let mut out = vec![];
        while !bytes.is_empty() {
            // One byte past the room: a newline right at the cap still ends the line whole.
            let room = MAX_LINE - self.pending.len();
            let window = &bytes[..bytes.len().min(room + 1)];
            if let Some(end) = window.iter().position(|&b| b == b'\n') {
                self.pending.extend_from_slice(&window[..end]);
                out.push(self.take(false));
                bytes = &bytes[end + 1..];
                continue;
            }
            let taken = window.len().min(room);
            self.pending.extend_from_slice(&bytes[..taken]);
            bytes = &bytes[taken..];
            if self.pending.len() == MAX_LINE {
                out.push(self.take(true));
            }
        }
        out
    }

    /// The stream ended: the last line, if it had no newline.
    pub fn finish(&mut self) -> Option<Line> {
        (!self.pending.is_empty()).then(|| self.take(false))
    }

    fn take(&mut self, cut: bool) -> Line {
        let mut bytes = std::mem::take(&mut self.pending);
        if !cut && bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        Line {
            text: String::from_utf8_lossy(&bytes).into_owned(),
            cut,
        }
    }
}

/// A worker's stderr, as the master reads it.
pub(super) struct WorkerStderr {
    pid: Pid,
    fd: OwnedFd,
    lines: Lines,
}

/// Whether the pipe may give more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Readout {
    Open,
    /// End of file (the worker and whatever inherited its stderr closed it), or an error:
    /// the last line is logged, and the pipe can be dropped.
    Closed,
}

impl WorkerStderr {
    /// The master's end of worker `pid`'s stderr; it must be non-blocking.
    pub fn new(pid: Pid, fd: OwnedFd) -> WorkerStderr {
        WorkerStderr {
            pid,
            fd,
            lines: Lines::default(),
        }
    }

    /// Reads what the pipe holds now (up to [`READ_PER_WAKE`]) and logs its lines.
    pub fn read(&mut self) -> Readout {
        let mut buf = [0u8; 8192];
        let mut taken = 0;
        while taken < READ_PER_WAKE {
            match nix::unistd::read(self.fd.as_fd(), &mut buf) {
                Ok(0) => return self.close(),
                Ok(n) => {
                    taken += n;
                    for line in self.lines.push(&buf[..n]) {
                        self.log(&line);
                    }
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(nix::errno::Errno::EAGAIN) => return Readout::Open,
                Err(e) => {
                    log::warn!(
                        "cannot read the stderr of worker {}: {}",
                        self.pid,
                        io::Error::from(e)
                    );
                    return self.close();
                }
            }
        }
        Readout::Open
    }

    fn close(&mut self) -> Readout {
        self.finish();
        Readout::Closed
    }

    /// Logs a last line that has no newline yet: the pipe is given up.
    pub fn finish(&mut self) {
        if let Some(line) = self.lines.finish() {
            self.log(&line);
        }
    }

    fn log(&self, line: &Line) {
        let more = if line.cut {
            " [cut: the line goes on]"
        } else {
            ""
        };
        log::info!("worker {}: {}{more}", self.pid, line.text);
    }
}

impl AsFd for WorkerStderr {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl std::fmt::Debug for WorkerStderr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WorkerStderr({}, fd {})", self.pid, self.fd.as_raw_fd())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: Vec<Line>) -> Vec<String> {
        lines.into_iter().map(|l| l.text).collect()
    }

    #[test]
    fn lines_are_cut_at_newlines_wherever_the_reads_end() {
        let mut lines = Lines::default();
        assert_eq!(texts(lines.push(b"PHP Warning:  x")), Vec::<String>::new());
        assert_eq!(
            texts(lines.push(b" in a.php\nsecond\r\nthi")),
            ["PHP Warning:  x in a.php", "second"]
        );
        assert_eq!(texts(lines.push(b"rd\n\n")), ["third", ""]);
        assert_eq!(lines.finish(), None);
    }

    #[test]
    fn a_last_line_without_its_newline_comes_at_the_end() {
        let mut lines = Lines::default();
        lines.push(b"done\nFatal error: out of memory");
        assert_eq!(
            lines.finish(),
            Some(Line {
                text: "Fatal error: out of memory".into(),
                cut: false
            })
        );
        assert_eq!(lines.finish(), None, "once");
    }

    #[test]
    fn a_line_longer_than_the_cap_is_given_in_pieces_and_nothing_is_lost() {
        let mut lines = Lines::default();
        let long = vec![b'x'; 2 * MAX_LINE + 10];
        let mut got = lines.push(&long[..MAX_LINE - 1]);
        assert!(got.is_empty());
        got.extend(lines.push(&long[MAX_LINE - 1..]));
        got.extend(lines.push(b"\nnext\n"));
        let lengths: Vec<(usize, bool)> = got.iter().map(|l| (l.text.len(), l.cut)).collect();
        assert_eq!(
            lengths,
            [(MAX_LINE, true), (MAX_LINE, true), (10, false), (4, false)]
        );
        assert!(
            lines.pending.capacity() <= 2 * MAX_LINE,
            "the buffer stays bounded"
        );

        let exact = [vec![b'y'; MAX_LINE], b"\n".to_vec()].concat();
        let got = lines.push(&exact);
        assert_eq!(got.len(), 1, "a line of exactly the cap is one line");
        assert!(!got[0].cut);
    }

    #[test]
    fn bytes_that_are_not_utf8_are_shown_not_dropped() {
        let mut lines = Lines::default();
        assert_eq!(texts(lines.push(b"caf\xe9\n")), ["caf\u{fffd}"]);
    }

    #[test]
    fn a_pipe_is_read_to_its_end() {
        let (r, w) = crate::sys::pipe().unwrap();
        crate::sys::set_nonblocking(r.as_fd()).unwrap();
        let mut stderr = WorkerStderr::new(1, r);
        assert_eq!(stderr.read(), Readout::Open, "empty and open");
        std::io::Write::write_all(&mut std::fs::File::from(w), b"a\nb").unwrap();
        assert_eq!(stderr.read(), Readout::Closed, "written, then closed");
    }
}
