//! Linux collectors: `/proc/meminfo`, `/proc/vmstat`, `/proc/pressure/memory`, `/sys/class/thermal`
//! and hwmon. Each reader takes the file text so it is testable; [`collect`] reads the real files.

use super::{Fan, Memory, Thermal};

/// A `/proc/meminfo` value in bytes (the file says kB).
pub fn meminfo_bytes(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|k| k * 1024)
}

fn vmstat(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

/// PSI `some avg10` → a pressure word (thresholds as percentages of stalled time).
fn psi_level(psi: &str) -> Option<String> {
    let avg10: f64 = psi
        .lines()
        .find(|l| l.starts_with("some"))?
        .split_whitespace()
        .find_map(|f| f.strip_prefix("avg10="))?
        .parse()
        .ok()?;
    Some(
        if avg10 >= 10.0 {
            "critical"
        } else if avg10 >= 1.0 {
            "warn"
        } else {
            "normal"
        }
        .to_string(),
    )
}

pub fn memory(meminfo: &str, vmstat_text: &str, psi: Option<&str>) -> Memory {
    let total = meminfo_bytes(meminfo, "MemTotal");
    let available = meminfo_bytes(meminfo, "MemAvailable");
    let swap_total = meminfo_bytes(meminfo, "SwapTotal");
    let swap_free = meminfo_bytes(meminfo, "SwapFree");
    Memory {
        total_bytes: total,
        used_bytes: total.zip(available).map(|(t, a)| t.saturating_sub(a)),
        free_bytes: available,
        compressed_bytes: None,
        swap_total_bytes: swap_total,
        swap_used_bytes: swap_total.zip(swap_free).map(|(t, f)| t.saturating_sub(f)),
        pressure: psi.and_then(psi_level),
        swapins: vmstat(vmstat_text, "pswpin"),
        swapouts: vmstat(vmstat_text, "pswpout"),
    }
}

/// The hottest of the thermal zones and hwmon sensors (millidegrees in sysfs).
pub fn thermal(millidegrees: &[String]) -> Thermal {
    let max =
        millidegrees.iter().filter_map(|t| t.trim().parse::<i64>().ok()).filter(|t| *t > -50_000 && *t < 150_000).max();
    Thermal { max_celsius: max.map(|m| m as f64 / 1000.0), ..Thermal::default() }
}

/// Fans from hwmon: `(name, fanN_input)` pairs, the name being the chip's `name` file and N.
pub fn fans(readings: &[(String, String)]) -> Vec<Fan> {
    readings.iter().filter_map(|(n, rpm)| Some(Fan { name: n.clone(), rpm: rpm.trim().parse().ok()? })).collect()
}

/// Reads this machine's files.
pub fn collect() -> (Memory, Thermal) {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let mem = memory(
        &read("/proc/meminfo"),
        &read("/proc/vmstat"),
        std::fs::read_to_string("/proc/pressure/memory").ok().as_deref(),
    );
    let mut temps = Vec::new();
    for pattern in ["/sys/class/thermal/thermal_zone*/temp", "/sys/class/hwmon/hwmon*/temp*_input"] {
        for p in glob::glob(pattern).into_iter().flatten().flatten() {
            if let Ok(t) = std::fs::read_to_string(p) {
                temps.push(t);
            }
        }
    }
    let mut readings = Vec::new();
    for p in glob::glob("/sys/class/hwmon/hwmon*/fan*_input").into_iter().flatten().flatten() {
        let chip = p.parent().and_then(|d| std::fs::read_to_string(d.join("name")).ok()).unwrap_or_default();
        let fan = p.file_name().map(|f| f.to_string_lossy().trim_end_matches("_input").to_string()).unwrap_or_default();
        if let Ok(rpm) = std::fs::read_to_string(&p) {
            readings.push((format!("{}/{fan}", chip.trim()), rpm));
        }
    }
    let mut t = thermal(&temps);
    t.fans = fans(&readings);
    (mem, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_reads_for_real() {
        let m = memory(
            "MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 600 kB\nSwapTotal: 200 kB\nSwapFree: 150 kB\n",
            "pswpin 7\npswpout 9\n",
            Some("some avg10=2.50 avg60=0.00 avg300=0.00 total=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"),
        );
        assert_eq!((m.total_bytes, m.used_bytes, m.free_bytes), (Some(1_024_000), Some(409_600), Some(614_400)));
        assert_eq!((m.swap_used_bytes, m.swapins, m.swapouts), (Some(51_200), Some(7), Some(9)));
        assert_eq!(m.pressure.as_deref(), Some("warn"));
        assert_eq!(thermal(&["45000\n".into(), "61500\n".into(), "garbage".into()]).max_celsius, Some(61.5));
        let f = fans(&[("nct6775/fan1".into(), "1210\n".into()), ("nct6775/fan2".into(), "x".into())]);
        assert_eq!(f, vec![Fan { name: "nct6775/fan1".into(), rpm: 1210 }]);
        // This machine, for real: memory is always there; sensors may not be in a VM.
        let (mem, _thermal) = collect();
        let total = mem.total_bytes.unwrap();
        assert!(total > 0 && mem.used_bytes.unwrap() <= total, "{mem:?}");
    }
}
