//! Figures read off the machine: a process's resident memory and CPU time
//! (Linux /proc), and percentiles of measured durations.

use std::time::Duration;

/// (current, peak) resident set size of `pid`, in bytes.
pub fn rss(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
            .map(|kib| kib * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// (open, soft limit) file descriptors of process `pid`, or of this one for
/// `None`: every connection costs one on each side, so a run of thousands
/// checks both before it starts rather than failing half way on "too many
/// open files" (or, on the server, on connections it never accepts).
pub fn file_descriptors(pid: Option<u32>) -> Option<(u64, u64)> {
    let dir = match pid {
        Some(pid) => format!("/proc/{pid}"),
        None => "/proc/self".to_owned(),
    };
    let open = std::fs::read_dir(format!("{dir}/fd")).ok()?.count() as u64;
    let limits = std::fs::read_to_string(format!("{dir}/limits")).ok()?;
    Some((open, soft_open_files_limit(&limits)?))
}

/// The soft "Max open files" of a `/proc/<pid>/limits` text; `u64::MAX`
/// when unlimited.
fn soft_open_files_limit(limits: &str) -> Option<u64> {
    let soft = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?
        .split_whitespace()
        .next()?;
    match soft {
        "unlimited" => Some(u64::MAX),
        n => n.parse().ok(),
    }
}

/// CPU time (user + system, all threads) that process `pid` has used so
/// far, in seconds; `None` for this process itself. Read before and after a
/// run: the difference is what the run cost, whatever else the machine did
/// meanwhile, which wall time cannot tell on a shared 2-core machine.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    ticks_to_seconds(&stat, clock_ticks_per_second()?)
}

/// utime + stime of a `/proc/<pid>/stat` line, in seconds. The command name
/// (field 2) may hold spaces and parentheses, so fields are counted from the
/// last `)`: state is then field 3, utime 14 and stime 15.
fn ticks_to_seconds(stat: &str, ticks_per_second: u64) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / ticks_per_second as f64)
}

/// The kernel's clock tick for /proc times (`_SC_CLK_TCK`, nearly always
/// 100): asked rather than assumed, since a wrong guess would scale every
/// CPU figure silently.
fn clock_ticks_per_second() -> Option<u64> {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|t| *t > 0)
}

/// The `p`-th percentile (0-100) by nearest rank; `None` when empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Median of repeated timings, for the benches.
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    percentile(&samples, 50.0).unwrap_or_default()
}

/// Times `f` `runs` times and returns the median.
pub fn time_median<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    let samples = (0..runs)
        .map(|_| {
            let start = std::time::Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .collect();
    median(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&v, 99.0), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&v, 100.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn cpu_ticks_are_read_past_a_command_name_with_spaces() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0";
        assert_eq!(ticks_to_seconds(stat, 100), Some(3.0));
        assert_eq!(ticks_to_seconds("42 (x) S 1", 100), None);
    }

    #[test]
    fn this_process_uses_cpu() {
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(50) {
            std::hint::black_box(0);
        }
        assert!(cpu_seconds(None).unwrap() > 0.0);
        assert!(cpu_seconds(Some(std::process::id())).unwrap() > 0.0);
    }

    #[test]
    fn the_soft_open_files_limit_is_read() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max processes             95448                95448                processes\n\
                      Max open files            20000                1048576              files\n";
        assert_eq!(soft_open_files_limit(limits), Some(20000));
        assert_eq!(
            soft_open_files_limit("Max open files  unlimited  unlimited  files"),
            Some(u64::MAX)
        );
        let (open, limit) = file_descriptors(None).unwrap();
        assert!(open > 0 && limit >= open);
    }

    #[test]
    fn this_process_has_a_resident_size() {
        let (now, peak) = rss(std::process::id()).unwrap();
        assert!(now > 0 && peak >= now);
    }
}
