//! A tick as the pool hands it out, and its delivery to a worker: plain values.
//!
//! They sit below everything that handles them: [`crate::workers`] keeps the tick a busy
//! worker holds, [`crate::pool`] decides which tick goes where and makes the deliveries, and
//! [`crate::payload`] formats a delivery for PHP. Keeping them here lets the formatting
//! depend on the values it formats and on nothing that decides.

use crate::pid::Pid;
use crate::schedule::Mono;

/// A tick as the pool hands it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    pub number: u64,
    pub due: Mono,
    /// 1 for the first delivery; 2 when re-run after a worker asked to stop while holding it.
    pub attempt: u32,
}

impl Tick {
    pub fn new(number: u64, due: Mono) -> Tick {
        Tick {
            number,
            due,
            attempt: 1,
        }
    }
}

/// A tick to send to a worker now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub pid: Pid,
    pub tick: Tick,
    /// Ticks skipped since the previous delivery, for the tick's header.
    pub skipped: u64,
    /// Due instant of the previous delivered tick, `None` for the first.
    pub last_tick: Option<Mono>,
    /// The tick had to wait for a free worker (the `delay` policy then shifts the grid).
    pub waited: bool,
}
