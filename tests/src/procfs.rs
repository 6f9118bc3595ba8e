//! What benchmarks read about a process from `/proc`: its CPU time and peak memory.

use std::process::Command;

/// User plus system CPU seconds of process `pid` (or `"self"`) so far.
pub fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command name (in parentheses, may hold spaces) come fields 3, 4, …; utime and
    // stime are fields 14 and 15 (proc(5)).
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<f64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    (fields.get(11).unwrap_or(&0.0) + fields.get(12).unwrap_or(&0.0)) / clock_ticks()
}

/// Peak resident memory (`VmHWM`) of process `pid`, as `/proc` prints it ("44580 kB").
pub fn peak_rss(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .map_or_else(|| "unknown".into(), |v| v.trim().to_string())
}

/// Peak resident memory (`VmHWM`) of process `pid`, in kB (0 if it cannot be read).
pub fn peak_rss_kb(pid: u32) -> u64 {
    peak_rss(pid)
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 on Linux), read once.
fn clock_ticks() -> f64 {
    static TICKS: std::sync::LazyLock<f64> = std::sync::LazyLock::new(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    });
    *TICKS
}
