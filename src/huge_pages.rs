//! The master's memory on 2 MB pages before it forks its pool.
//!
//! A fork copies the page tables of everything the booted application touched, and every
//! worker's exit tears them down again: one entry per 4 KB page, so about 13 ms per worker
//! for a 200 MB application, 500 times over for a large pool. On a 2 MB page the same memory
//! is one entry in 512. PHP puts its heap there only when started with
//! `USE_ZEND_ALLOC_HUGE_PAGES=1`; the master does it for any application, once, right before
//! the first fork: it asks the kernel to collapse (`MADV_COLLAPSE`, Linux 6.1) every 2 MB
//! stretch of its private anonymous memory that is at least half in use already, so that
//! little memory is added. Workers still share those pages copy-on-write: the first write to
//! one splits it back into 4 KB pages in that worker only.
//!
//! Owns which stretches are worth it (pure: [`stretches`], [`worth_collapsing`]) and the
//! report. The system calls are in [`crate::sys`]. It must never make the pool's start fail:
//! on a kernel without the call, with transparent huge pages off, or short of free 2 MB
//! pages, the memory stays as it is and the report says so.

use std::fmt;
use std::ops::Range;
use std::time::{Duration, Instant};

use crate::sys;

/// A transparent huge page on x86-64 and arm64 with 4 KB pages.
pub const HUGE_PAGE: usize = 2 << 20;

/// The base page whose entries the fork copies.
pub const PAGE: usize = 4 << 10;

const PAGES_PER_HUGE: usize = HUGE_PAGE / PAGE;

/// The private anonymous writable mappings of `/proc/self/maps`: the heaps (PHP's own, in
/// 2 MB chunks, and malloc's). Files, shared memory, stacks and the kernel's own mappings
/// (`[stack]`, `[vvar]`, ...) are left alone; `[heap]` is malloc's and kept.
pub fn anonymous_mappings(maps: &str) -> Vec<Range<usize>> {
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_ascii_whitespace();
            let range = fields.next()?;
            let perms = fields.next()?;
            let _offset = fields.next()?;
            let _device = fields.next()?;
            let inode = fields.next()?;
            let name = fields.next();
            let anonymous = inode == "0" && matches!(name, None | Some("[heap]"));
            if !(anonymous && perms.starts_with("rw") && perms.ends_with('p')) {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let start = usize::from_str_radix(start, 16).ok()?;
            let end = usize::from_str_radix(end, 16).ok()?;
            (start < end).then_some(start..end)
        })
        .collect()
}

/// The whole 2 MB-aligned stretches inside `mapping`: only those can become one huge page.
pub fn stretches(mapping: &Range<usize>) -> impl Iterator<Item = Range<usize>> + use<> {
    let first = mapping.start.next_multiple_of(HUGE_PAGE);
    let end = mapping.end - mapping.end % HUGE_PAGE;
    (first..end)
        .step_by(HUGE_PAGE)
        .map(|start| start..start + HUGE_PAGE)
}

/// Collapsing fills the whole stretch: worth it when at least half of its pages are in use
/// already, so that the master grows by at most as much as it holds there, and the fork
/// saves the most entries.
pub fn worth_collapsing(resident_pages: usize) -> bool {
    resident_pages * 2 >= PAGES_PER_HUGE
}

/// Adjacent stretches joined into one range each.
pub fn runs(stretches: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut runs: Vec<Range<usize>> = Vec::new();
    for stretch in stretches {
        match runs.last_mut() {
            Some(last) if last.end == stretch.start => last.end = stretch.end,
            _ => runs.push(stretch.clone()),
        }
    }
    runs
}

/// What [`collapse`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Stretches now on one 2 MB page each (those that were already are counted too).
    pub collapsed: usize,
    /// Stretches that were worth it but may have stayed on 4 KB pages (the kernel answers
    /// for a whole run at once), and the last reason.
    pub failed: usize,
    pub error: Option<String>,
    pub took: Duration,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} MB of the application's memory on 2 MB pages before forking ({} ms)",
            self.collapsed * (HUGE_PAGE >> 20),
            self.took.as_millis()
        )?;
        if let Some(error) = &self.error {
            write!(
                f,
                "; {} MB stayed on 4 KB pages ({error}), so each fork copies their page tables",
                self.failed * (HUGE_PAGE >> 20)
            )?;
        }
        Ok(())
    }
}

/// Collapses every stretch of this process's anonymous memory that is worth it.
pub fn collapse() -> Report {
    let started = Instant::now();
    let mut report = Report {
        collapsed: 0,
        failed: 0,
        error: None,
        took: Duration::ZERO,
    };
    if sys::page_size() != PAGE {
        report.error = Some(format!(
            "the base page is {} bytes, not 4 KB",
            sys::page_size()
        ));
        return report;
    }
    let maps = match std::fs::read_to_string("/proc/self/maps") {
        Ok(maps) => maps,
        Err(e) => {
            report.error = Some(format!("cannot read /proc/self/maps: {e}"));
            return report;
        }
    };
    let mut residency = vec![0u8; PAGES_PER_HUGE];
    let mut worth = Vec::new();
    for mapping in anonymous_mappings(&maps) {
        for stretch in stretches(&mapping) {
            // An error: unmapped since the maps were read, nothing to do there.
            if sys::resident_pages(stretch.start, &mut residency).is_ok_and(worth_collapsing) {
                worth.push(stretch);
            }
        }
    }
    // One call per run of neighbours: each call first drains every CPU's page lists and
    // waits for that, which costs more than collapsing a stretch.
    for run in runs(&worth) {
        let stretches = run.len() / HUGE_PAGE;
        match sys::collapse_into_huge_pages(run.start, run.len()) {
            Ok(()) => report.collapsed += stretches,
            Err(e) => {
                report.failed += stretches;
                report.error = Some(e.to_string());
            }
        }
    }
    report.took = started.elapsed();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55d0c0a00000-55d0c0c00000 r--p 00000000 08:01 1234   /usr/bin/php8.2
55d0c2000000-55d0c2600000 rw-p 00000000 00:00 0      [heap]
7f1000000000-7f1000e00000 rw-p 00000000 00:00 0
7f1000e00000-7f1001000000 rw-s 00000000 00:01 77     /dev/zero (deleted)
7f1001000000-7f1001200000 r--p 00000000 00:00 0
7f1001200000-7f1001400000 rw-p 00200000 08:01 99     /usr/lib/x86_64-linux-gnu/libc.so.6
7ffd00000000-7ffd00800000 rw-p 00000000 00:00 0      [stack]
7ffd00900000-7ffd00902000 r--p 00000000 00:00 0      [vvar]
";

    #[test]
    fn only_private_anonymous_writable_memory_is_a_candidate() {
        assert_eq!(
            anonymous_mappings(MAPS),
            vec![
                0x55d0_c200_0000..0x55d0_c260_0000,
                0x7f10_0000_0000..0x7f10_00e0_0000
            ]
        );
    }

    #[test]
    fn a_line_that_does_not_parse_is_skipped() {
        assert!(anonymous_mappings("garbage\nzz-yy rw-p 0 00:00 0\n").is_empty());
    }

    #[test]
    fn stretches_are_whole_aligned_2_mb_pieces_of_a_mapping() {
        let mb = 1 << 20;
        let mapping = 3 * mb..11 * mb;
        let got: Vec<_> = stretches(&mapping).collect();
        assert_eq!(got, vec![4 * mb..6 * mb, 6 * mb..8 * mb, 8 * mb..10 * mb]);
        assert_eq!(stretches(&(4 * mb..5 * mb)).count(), 0);
        assert_eq!(stretches(&(4 * mb..6 * mb)).count(), 1);
    }

    #[test]
    fn neighbouring_stretches_make_one_run() {
        let h = HUGE_PAGE;
        let worth = [0..h, h..2 * h, 3 * h..4 * h, 4 * h..5 * h, 7 * h..8 * h];
        assert_eq!(runs(&worth), vec![0..2 * h, 3 * h..5 * h, 7 * h..8 * h]);
        assert!(runs(&[]).is_empty());
    }

    #[test]
    fn a_stretch_is_worth_collapsing_when_half_of_it_is_in_use() {
        assert!(!worth_collapsing(0));
        assert!(!worth_collapsing(PAGES_PER_HUGE / 2 - 1));
        assert!(worth_collapsing(PAGES_PER_HUGE / 2));
        assert!(worth_collapsing(PAGES_PER_HUGE));
    }

    /// `AnonHugePages` of the mapping that contains `address`, in kB.
    fn huge_kb_at(address: usize) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((start, end)) = range.split_once('-')
                && let (Ok(start), Ok(end)) = (
                    usize::from_str_radix(start, 16),
                    usize::from_str_radix(end, 16),
                )
            {
                inside = (start..end).contains(&address);
            } else if inside && let Some(kb) = line.strip_prefix("AnonHugePages:") {
                return kb.trim().trim_end_matches(" kB").trim().parse().unwrap();
            }
        }
        panic!("no mapping holds {address:#x}");
    }

    #[test]
    fn memory_in_use_is_collapsed_and_memory_barely_used_is_not() {
        let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .unwrap_or_default();
        if thp.is_empty() || thp.contains("[never]") {
            eprintln!("transparent huge pages are off here ({thp:?}): nothing to collapse into");
            return;
        }
        let len = 4 * HUGE_PAGE;
        let used = vec![1u8; len];
        // A mapping of its own: a `vec!` of this size may come from heap memory another test
        // freed, which the allocator zeroes page by page, filling it up.
        // SAFETY: a fresh private anonymous mapping, used only as the slice below and
        // unmapped at the end of the test.
        let sparse_ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(sparse_ptr, libc::MAP_FAILED);
        // SAFETY: the mapping is `len` bytes, readable, writable, zeroed, and nothing else
        // refers to it.
        let sparse = unsafe { std::slice::from_raw_parts_mut(sparse_ptr.cast::<u8>(), len) };
        for page in sparse.iter_mut().step_by(PAGE * 8) {
            *page = 1;
        }
        let report = collapse();
        assert_eq!(report.error, None, "{report}");
        assert!(report.collapsed >= 3, "{report}");
        // Each 8 MB allocation is a mapping of malloc's own (above its threshold), holding
        // at least three whole aligned stretches; neighbouring mappings may merge.
        assert!(huge_kb_at(used.as_ptr() as usize) >= 3 * 2048, "{report}");
        let sparse_range = sparse.as_ptr() as usize..sparse.as_ptr() as usize + len;
        let mut residency = vec![0u8; PAGES_PER_HUGE];
        for stretch in stretches(&sparse_range) {
            let resident = sys::resident_pages(stretch.start, &mut residency).unwrap();
            assert!(
                resident < PAGES_PER_HUGE / 2,
                "not filled up: {resident} pages"
            );
        }
        assert!(used.iter().all(|&b| b == 1), "the contents stayed");
        assert!(sparse.iter().step_by(PAGE * 8).all(|&b| b == 1));
        // SAFETY: the mapping made above, no longer used.
        unsafe { libc::munmap(sparse_ptr, len) };
    }

    #[test]
    fn the_report_says_what_stayed_and_why() {
        let report = Report {
            collapsed: 100,
            failed: 3,
            error: Some("Invalid argument (os error 22)".into()),
            took: Duration::from_millis(41),
        };
        assert_eq!(
            report.to_string(),
            "200 MB of the application's memory on 2 MB pages before forking (41 ms); 6 MB \
             stayed on 4 KB pages (Invalid argument (os error 22)), so each fork copies their \
             page tables"
        );
    }
}
