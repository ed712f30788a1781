//! Process ids: the one type the pure core (which worker holds which tick) and the system
//! calls (which process to signal or reap) share, so that neither imports the other.

/// A process id, as the OS gives it.
pub type Pid = i32;
