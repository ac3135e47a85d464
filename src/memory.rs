//! How much memory a run may use, and the check that stops it with a clear message before
//! the machine runs out, rather than leaving the kernel to kill it part-way.
//!
//! A batch run holds the store (each record's values as integer ids, each distinct value
//! once), the blocking plan (a few integers per record per rule), one chunk of candidate
//! pairs, and the pairs it keeps (the links). It grows with records and with links, not
//! with candidate pairs: those stream through in chunks.
//!
//! [`Budget::detect`] finds what the process may use: the smallest of the memory the system
//! has available (with what the process already holds), the container's limit (cgroup v2
//! `memory.max` or v1 `memory.limit_in_bytes`, less what the rest of the container holds),
//! and the address-space limit (`ulimit -v`). The reader checks against it after each batch
//! of rows, projecting a file of known size from the part read; the normaliser, the planner
//! and the linker before and after each large step. A check that fails is an
//! [`crate::ErrorKind::Memory`] error saying what the run was doing, what
//! it held and what it may hold. Figures come from `/proc`; where there is no `/proc`, there
//! is no budget and no check.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Error;

/// The process's own limit in bytes ([`set_limit`]); 0 for none.
static LIMIT: AtomicU64 = AtomicU64::new(0);

/// Sets the memory this process may hold (the command line's `--memory-limit`): from then
/// on [`Budget::detect`] gives it, so every builder and training made afterwards checks
/// against it. `None` goes back to what the machine has free.
pub fn set_limit(bytes: Option<u64>) {
    LIMIT.store(bytes.unwrap_or(0), Ordering::Relaxed);
}

/// Of the budget, the share a check lets the run hold before it stops it: the rest is room
/// for the step under way (a batch of rows, a chunk of pairs, a vector's growth).
const SHARE: f64 = 0.9;

/// What a run may hold, in bytes, and where the figure came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    bytes: u64,
    source: Source,
}

/// Where a [`Budget`]'s figure came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The memory the system had available (`MemAvailable`) with what the process held.
    Available,
    /// The container's memory limit (cgroup), less what the rest of the container held.
    Container,
    /// The address-space limit (`ulimit -v`).
    AddressSpace,
    /// Given by the caller (the command line's `--memory-limit`).
    Given,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Available => "what this machine had free",
            Source::Container => "the container's memory limit",
            Source::AddressSpace => "the address-space limit, ulimit -v",
            Source::Given => "--memory-limit",
        })
    }
}

impl Budget {
    /// A budget of `bytes`, given by the caller.
    pub fn bytes(bytes: u64) -> Budget {
        Budget {
            bytes,
            source: Source::Given,
        }
    }

    /// What this process may use now: the limit set with [`set_limit`], else what the
    /// machine has free (see the module's documentation), or `None` where `/proc` does not
    /// say.
    pub fn detect() -> Option<Budget> {
        match LIMIT.load(Ordering::Relaxed) {
            0 => {}
            bytes => return Some(Budget::bytes(bytes)),
        }
        let held = resident()?;
        let mut best: Option<Budget> = None;
        let mut offer = |bytes: Option<u64>, source| {
            if let Some(bytes) = bytes
                && best.is_none_or(|b| bytes < b.bytes)
            {
                best = Some(Budget { bytes, source });
            }
        };
        let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
        offer(
            meminfo
                .as_deref()
                .and_then(|m| kib_field(m, "MemAvailable:"))
                .map(|a| a + held),
            Source::Available,
        );
        offer(container_room(held), Source::Container);
        let limits = std::fs::read_to_string("/proc/self/limits").ok();
        offer(
            limits.as_deref().and_then(address_space_limit),
            Source::AddressSpace,
        );
        best
    }

    /// The budget in bytes.
    pub fn get(&self) -> u64 {
        self.bytes
    }

    /// Where the figure came from.
    pub fn source(&self) -> Source {
        self.source
    }

    /// Checks that the process holds less than 90% of the budget, and that it will after
    /// `more` bytes more; `doing` says what the run is doing, for the message ("reading
    /// gp.csv, line 1000000").
    ///
    /// # Errors
    ///
    /// An [`crate::ErrorKind::Memory`] error when it would not.
    pub fn check(&self, more: u64, doing: impl FnOnce() -> String) -> Result<(), Error> {
        let Some(held) = resident() else {
            return Ok(());
        };
        self.check_held(held, more, doing)
    }

    /// [`Budget::check`] with the process holding `held` bytes.
    pub(crate) fn check_held(
        &self,
        held: u64,
        more: u64,
        doing: impl FnOnce() -> String,
    ) -> Result<(), Error> {
        if (held.saturating_add(more) as f64) < self.bytes as f64 * SHARE {
            return Ok(());
        }
        let needs = if more >= 1_000_000 {
            format!(
                "it holds {} and the next step needs about {} more",
                size(held),
                size(more)
            )
        } else {
            format!("it holds {}", size(held))
        };
        Err(Error::memory(format!(
            "stopped before memory ran out, while {}: {needs}, and it may hold at most {} \
             (from {}; a tenth is kept back for the step under way). Memory grows with the records and the links kept, \
             not with candidate pairs: run it where more memory is free, split the input (e.g. \
             by region or by year of birth), or, if more is free than was found, give \
             --memory-limit",
            doing(),
            size(self.bytes),
            self.source
        )))
    }
}

/// Bytes for a message: "7.45 GB", or "120 MB" under a gigabyte.
fn size(bytes: u64) -> String {
    if bytes >= 1_000_000_000 {
        format!("{:.2} GB", bytes as f64 / 1e9)
    } else {
        format!("{:.0} MB", bytes as f64 / 1e6)
    }
}

/// The resident memory of this process in bytes (`VmRSS`), or `None` where `/proc` does not
/// say.
pub fn resident() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    kib_field(&status, "VmRSS:")
}

/// The value of a `Name:  1234 kB` line, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kib: u64 = line[name.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// The "Max address space" soft limit in `/proc/self/limits`, unless unlimited.
fn address_space_limit(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?;
    line["Max address space".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The room the container's memory limit leaves this process (which holds `held`): the limit
/// less what the rest of the container holds. `None` without a limit.
fn container_room(held: u64) -> Option<u64> {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let number = |s: Option<String>| s.and_then(|s| s.trim().parse::<u64>().ok());
    // cgroup v2: this process's group from /proc/self/cgroup ("0::/path").
    let v2 = read("/proc/self/cgroup").and_then(|c| {
        let path = c.lines().find_map(|l| l.strip_prefix("0::"))?.to_string();
        let dir = format!("/sys/fs/cgroup{}", path.trim_end_matches('/'));
        Some((
            number(read(&format!("{dir}/memory.max")))?,
            number(read(&format!("{dir}/memory.current")))?,
        ))
    });
    let v1 = || {
        Some((
            number(read("/sys/fs/cgroup/memory/memory.limit_in_bytes"))?,
            number(read("/sys/fs/cgroup/memory/memory.usage_in_bytes"))?,
        ))
    };
    let (limit, used) = v2.or_else(v1)?;
    // v1 writes an unlimited group as a huge number.
    if limit >= 1 << 60 {
        return None;
    }
    Some(limit.saturating_sub(used.saturating_sub(held)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_stops_at_nine_tenths_and_says_what_the_run_was_doing() {
        let b = Budget::bytes(10_000_000_000);
        assert!(b.check_held(8_000_000_000, 0, String::new).is_ok());
        assert!(
            b.check_held(8_000_000_000, 999_999_999, String::new)
                .is_ok()
        );
        let e = b
            .check_held(8_000_000_000, 1_000_000_000, || "linking".into())
            .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Memory);
        let m = e.message();
        assert!(m.contains("while linking"), "{m}");
        assert!(m.contains("holds 8.00 GB"), "{m}");
        assert!(m.contains("1.00 GB more"), "{m}");
        assert!(m.contains("at most 10.00 GB (from --memory-limit;"), "{m}");
        let e = b
            .check_held(9_000_000_000, 0, || "reading".into())
            .unwrap_err();
        assert!(
            e.message().contains("it holds 9.00 GB, and"),
            "{}",
            e.message()
        );
        let small = Budget::bytes(100_000_000);
        let e = small.check_held(95_000_000, 0, String::new).unwrap_err();
        assert!(
            e.message()
                .contains("holds 95 MB, and it may hold at most 100 MB"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn a_tiny_budget_fails_at_the_first_check_and_a_huge_one_never() {
        if resident().is_none() {
            return; // no /proc: no check.
        }
        assert!(Budget::bytes(1).check(0, String::new).is_err());
        assert!(Budget::bytes(u64::MAX).check(1 << 40, String::new).is_ok());
    }

    #[test]
    fn proc_fields_are_read_in_bytes() {
        assert_eq!(
            kib_field("VmHWM:\t  10 kB\nVmRSS:\t    2048 kB\n", "VmRSS:"),
            Some(2048 * 1024)
        );
        assert_eq!(kib_field("VmRSS: x kB", "VmRSS:"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max address space         8589934592           unlimited            bytes\n";
        assert_eq!(address_space_limit(limits), Some(8_589_934_592));
        let unlimited =
            "Max address space         unlimited            unlimited            bytes\n";
        assert_eq!(address_space_limit(unlimited), None);
    }

    #[test]
    fn detect_finds_a_budget_no_larger_than_the_machine() {
        let Some(b) = Budget::detect() else {
            return; // no /proc
        };
        let total = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| kib_field(&m, "MemTotal:"))
            .unwrap();
        assert!(b.get() > 0);
        assert!(b.get() <= total + resident().unwrap(), "{b:?}");
    }
}
