//! CPU time and memory of a process, read from /proc (Linux): `utime + stime` of
//! /proc/PID/stat (in USER_HZ = 100 ticks a second, the kernel's fixed unit for this file) and
//! `VmHWM` (peak resident set) of /proc/PID/status.

use anyhow::Context;

/// Ticks per second of /proc/PID/stat times (USER_HZ, 100 on every Linux architecture).
const USER_HZ: u64 = 100;

/// A process's CPU time so far and its peak RSS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// User + system CPU time, microseconds.
    pub cpu_us: u64,
    /// Peak resident set size, KiB (VmHWM).
    pub peak_rss_kib: u64,
}

impl Usage {
    /// Usage of process `pid`.
    pub fn of(pid: u32) -> anyhow::Result<Usage> {
        read(&format!("/proc/{pid}"))
    }

    /// Usage of this process.
    pub fn own() -> anyhow::Result<Usage> {
        read("/proc/self")
    }

    /// CPU time spent since `before`; the peak RSS as of now.
    pub fn since(&self, before: &Usage) -> Usage {
        Usage {
            cpu_us: self.cpu_us.saturating_sub(before.cpu_us),
            peak_rss_kib: self.peak_rss_kib,
        }
    }
}

fn read(dir: &str) -> anyhow::Result<Usage> {
    let stat = std::fs::read_to_string(format!("{dir}/stat"))
        .with_context(|| format!("reading {dir}/stat"))?;
    let status = std::fs::read_to_string(format!("{dir}/status"))
        .with_context(|| format!("reading {dir}/status"))?;
    Ok(Usage {
        cpu_us: cpu_ticks(&stat)
            .context("unexpected /proc/PID/stat format")?
            .saturating_mul(1_000_000 / USER_HZ),
        peak_rss_kib: vm_hwm(&status).unwrap_or(0),
    })
}

/// utime + stime: fields 14 and 15, counted after the `(comm)` field, which may hold spaces.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_comm = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = after_comm.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime.saturating_add(stime))
}

fn vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_comm() {
        let stat = "1234 (a b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0 100 2000 300";
        assert_eq!(cpu_ticks(stat), Some(300));
        assert_eq!(vm_hwm("Name:\tx\nVmHWM:\t   4321 kB\n"), Some(4321));
        let own = Usage::own().unwrap();
        assert!(own.peak_rss_kib > 0);
    }
}
